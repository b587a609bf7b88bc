"""The notifier database's tables: what it knows of accounts and tasks, the day's money per popug,
the reassignment changes waiting to be told, the notices, their mail, and each popug's settings.

The notifier produces no events, so it has an inbox and no outbox.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ates.bus import inbox_table
from ates.db import Money, UtcDateTime, new_metadata
from ates.revocations import revoked_tokens_table

metadata = new_metadata()
inbox = inbox_table(metadata)
revoked_tokens = revoked_tokens_table(metadata)  # from auth's token.revoked, for ates.tokens


# Auth's accounts: whom to tell, at which address, and whether they still count (ates/replicas.py).
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

# What a notice says about a task: its title (tracker) and price (accounting), each when it comes.
tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("jira_id", String(40)),
    Column("title", String(200)),
    Column("details_version", Integer),
    Column("assign_fee", Money()),
    Column("completion_reward", Money()),
)

# Each task a reassignment job moved, seen from both ends: the popug who got it and the one who
# lost it. Rows wait (`notice_id` null) until the job has been quiet for a while; then one notice
# per popug takes all of that popug's rows (reassignments.py).
reassignment_changes = Table(
    "reassignment_changes",
    metadata,
    Column("reassignment_id", String(36), primary_key=True),
    Column("task_id", String(36), primary_key=True),
    Column("change", String(4), primary_key=True),  # got | lost
    Column("account_id", String(36), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("notice_id", String(36)),  # the notice that told it; "" when nobody is to be told
    Index("ix_reassignment_changes_waiting", "notice_id", "reassignment_id"),
)

# The day's money per popug, from transaction.applied: what the end-of-day notice says.
day_activity = Table(
    "day_activity",
    metadata,
    Column("billing_date", Date, primary_key=True),
    Column("account_id", String(36), primary_key=True),
    Column("earned", Money(), nullable=False),
    Column("fees", Money(), nullable=False),  # positive: what the popug paid
    Column("paid_out", Money(), nullable=False),
    Column("balance", Money(), nullable=False),  # after the day's latest transaction
    Column("balance_at", UtcDateTime(), nullable=False),  # that transaction's applied_at
)

# The payouts seen (payout.sent): billing_day.closed waits until it has seen as many as it counts.
payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", String(36), primary_key=True),
    Column("billing_date", Date, nullable=False, index=True),
    Column("account_id", String(36), nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", String(36), nullable=False, unique=True),
    # what the notice is about, once: assigned:<task> | completed:<task> | day:<date>:<account> |
    # reassignment:<job>:<account>:<part>; a second event about the same thing finds it taken
    Column("subject_key", String(120), nullable=False, unique=True),
    Column("account_id", String(36), nullable=False),
    Column(
        "kind", String(20), nullable=False
    ),  # task_assigned | reassignment | task_completed | day_closed
    Column("task_id", String(36)),
    Column("facts", JSON, nullable=False),  # what the wording needs besides the task's details
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime()),
    Index("ix_notices_account", "account_id", "id"),
)

# The mail outbox: a row per mailed notice, written with the notice, sent by the mailer.
mails = Table(
    "mails",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", String(36), ForeignKey("notices.notice_id"), nullable=False, unique=True),
    Column("message_id", String(200), nullable=False, unique=True),
    Column("status", String(10), nullable=False, index=True),  # pending | sent | dropped
    Column("attempts", Integer, nullable=False),
    Column("not_before", UtcDateTime()),  # a sender's lease, or the time of the next try
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
)

# A popug's choices; no row means the defaults (task mail on).
notification_settings = Table(
    "notification_settings",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("task_mail", Boolean, nullable=False),
    Column("timezone", String(64)),  # IANA name; None: the system's ATES_TIMEZONE
    Column("updated_at", UtcDateTime(), nullable=False),
)
