"""The accounting database's tables: prices, balances, the transactions (the audit log), billing
days and payouts; the replica of auth's accounts."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ates.bus import inbox_table, outbox_table
from ates.db import Money, UtcDateTime, new_metadata
from ates.idempotency import idempotency_keys_table
from ates.revocations import revoked_tokens_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
revoked_tokens = revoked_tokens_table(metadata)  # from auth's token.revoked, for ates.tokens
idempotency_keys = idempotency_keys_table(
    metadata
)  # answers to writes sent again (ates/idempotency.py)


# What accounting knows of auth's accounts: names for the accounts list.
accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("email", String(254)),
    Column("full_name", String(200)),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
)

# One row per account that ever had a transaction; it may precede the account's events.
balances = Table(
    "balances",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("amount", Money(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# A task's price, fixed once when accounting first hears of it; its details come when they come.
tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("assign_fee", Money(), nullable=False),
    Column("completion_reward", Money(), nullable=False),
    Column("priced_at", UtcDateTime(), nullable=False),
    Column("rewarded", Boolean, nullable=False),
    Column("jira_id", String(40)),
    Column("title", String(200)),
    Column("description", Text),
    Column("details_version", Integer),
    Column(
        "assignee_id", String(36)
    ),  # the assignee of record: the latest task.assigned by assigned_at
    Column("assigned_at", UtcDateTime()),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transaction_id", String(36), nullable=False, unique=True),
    Column("account_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),  # assign_fee | completion_reward | payout
    Column("amount", Money(), nullable=False),
    Column("balance_after", Money(), nullable=False),
    Column("task_id", String(36)),
    Column("billing_date", Date, nullable=False),
    Column("applied_at", UtcDateTime(), nullable=False),
    Index("ix_transactions_account_day", "account_id", "billing_date"),
    Index("ix_transactions_day_kind", "billing_date", "kind"),
)

# Exactly one day is open; a day being paid out is `closing`, then `closed` with its totals.
billing_days = Table(
    "billing_days",
    metadata,
    Column("billing_date", Date, primary_key=True),
    Column("status", String(10), nullable=False, index=True),  # open | closing | closed
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("closing_at", UtcDateTime()),
    Column("closed_at", UtcDateTime()),
    Column("payouts", Integer),
    Column("total_paid", Money()),
    Column("management_income", Money()),
)

# One payout per account and day, whatever happens: the unique key is the last line of defence.
payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", String(36), primary_key=True),
    Column("billing_date", Date, ForeignKey("billing_days.billing_date"), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("transaction_id", String(36), nullable=False),
    Column("paid_at", UtcDateTime(), nullable=False),
    UniqueConstraint("billing_date", "account_id", name="uq_payouts_billing_date_account_id"),
)
