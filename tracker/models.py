"""The tracker database's tables: tasks and their activity, the replica of accounts, reassignments."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, text

from ates.bus import inbox_table, outbox_table
from ates.db import UtcDateTime, new_metadata
from ates.idempotency import idempotency_keys_table
from ates.revocations import revoked_tokens_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
revoked_tokens = revoked_tokens_table(metadata)  # from auth's token.revoked, for ates.tokens
idempotency_keys = idempotency_keys_table(
    metadata
)  # answers to writes sent again (ates/idempotency.py)

# What the tracker knows of auth's accounts: only what choosing an assignee needs.
accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("full_name", String(200)),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("assignable", Boolean, nullable=False, index=True),
    Column("version", Integer, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(36), nullable=False, unique=True),
    Column("jira_id", String(40)),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("assignee_id", String(36), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("version", Integer, nullable=False),
)

task_activity = Table(
    "task_activity",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(36), ForeignKey("tasks.task_id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # created | assigned | completed
    Column("account_id", String(36), nullable=False),
    Column("reassignment_id", String(36)),
    Column("at", UtcDateTime(), nullable=False),
)

reassignments = Table(
    "reassignments",
    metadata,
    Column("reassignment_id", String(36), primary_key=True),
    Column("requested_by", String(36), nullable=False),
    Column("status", String(10), nullable=False, index=True),  # running | done
    Column("total", Integer, nullable=False),
    Column("reassigned", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column(
        "correlation_id", String(200)
    ),  # of the request that started it; the job's events carry it
)

# The tasks a job must reassign, fixed when it starts; `done` is set in the batch's own
# transaction, so a job resumed after a crash never assigns a task twice. A batch takes the next
# undone items from a partial index of them: walking the primary key past the done ones made each
# batch slower than the last (100,000 tasks: 60 ms a batch at the end).
UNDONE = {"postgresql_where": text("done IS false"), "sqlite_where": text("done IS 0")}
reassignment_items = Table(
    "reassignment_items",
    metadata,
    Column(
        "reassignment_id", String(36), ForeignKey("reassignments.reassignment_id"), primary_key=True
    ),
    Column("task_id", String(36), primary_key=True),
    Column("done", Boolean, nullable=False),
    Index("ix_reassignment_items_undone", "reassignment_id", "task_id", **UNDONE),
)
