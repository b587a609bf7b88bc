"""The analytics database's tables: the read models, every one fed only by events, and the
archive of the events applied, from which the read models can be rebuilt.

The dashboard's questions touch days and accounts, never the tasks one by one: the most
expensive task of each day and each day's income are kept up to date as events arrive, so a
query costs the same with ten thousand tasks in the history as with a million.
"""

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table, Text

from ates.bus import inbox_table
from ates.db import Money, UtcDateTime, new_metadata
from ates.revocations import revoked_tokens_table

metadata = new_metadata()
inbox = inbox_table(metadata)
revoked_tokens = revoked_tokens_table(metadata)  # from auth's token.revoked, for ates.tokens

# Every event applied, the whole CloudEvents message, in the order it was applied. Written in
# the transaction that applies the event, so it holds exactly the applied events, each once.
event_archive = Table(
    "event_archive",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("event_version", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("archived_at", UtcDateTime(), nullable=False),
)

# From task.priced: fixed once per task.
task_prices = Table(
    "task_prices",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("assign_fee", Money(), nullable=False),
    Column("reward", Money(), nullable=False),
)

# From task.created v1/v2 and task.updated v2: what the dashboard shows of a task.
task_details = Table(
    "task_details",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("jira_id", String(40)),
    Column("title", String(300), nullable=False),
    Column("version", Integer, nullable=False),
)

# From task.completed (with the task's price): each task's completion, counted once.
completions = Table(
    "completions",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("completed_at", UtcDateTime(), nullable=False),
    Column("day", Date, nullable=False),
    Column("reward", Money(), nullable=False),
)

# The most expensive task completed on each day (domain.ranking decides ties).
daily_top_task = Table(
    "daily_top_task",
    metadata,
    Column("day", Date, primary_key=True),
    Column("task_id", String(36), nullable=False),
    Column("reward", Money(), nullable=False),
    Column("completed_at", UtcDateTime(), nullable=False),
)

# From transaction.applied: -(assign fees + completion rewards) of each billing day.
daily_income = Table(
    "daily_income",
    metadata,
    Column("day", Date, primary_key=True),
    Column("management_income", Money(), nullable=False),
)

# From transaction.applied: the sum of every account's transactions, payouts included.
account_balances = Table(
    "account_balances",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("balance", Money(), nullable=False),
    Index(
        "ix_account_balances_balance", "balance"
    ),  # count(balance < 0) reads only the negative ones
)

# From account.* events: only whether an account is active and its role, so that the API refuses
# a deactivated or demoted admin's token before it expires (see ates.tokens.init_app).
accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column(
        "role", String(20)
    ),  # None: not heard yet (a deactivation came first, or a row from before 0004)
    Column("version", Integer, nullable=False),
)

READ_MODELS = (
    task_prices,
    task_details,
    completions,
    daily_top_task,
    daily_income,
    account_balances,
    accounts,
)
