"""Reassignment jobs: a job fixes the tasks open when it starts, and the worker's runner reassigns
them in batches, each batch's assignments, events and done-marks in one transaction (the caller's
session), so a resumed job assigns no task twice (docs/tracker.md)."""

import uuid

from sqlalchemy import exists, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from ates import clock, correlation
from ates.bus.wakeup import notify_on_commit
from ates.db import insert_many, update_many
from tracker import domain, events
from tracker.models import outbox, reassignment_items, reassignments, task_activity, tasks
from tracker.service import OUTBOX, TASK_COLUMNS, TaskNotFound, activity_row, assignable_accounts

WAKEUP_CHANNEL = "ates_reassignments"  # the runners listen (tracker/worker.py)


def start_reassignment(session: Session, actor_id: str) -> dict:
    """Fix the job's tasks: every task open now. The worker reassigns them in batches."""
    domain.choose_assignee(assignable_accounts(session))  # refuse at once when nobody is assignable
    reassignment_id = str(uuid.uuid4())
    job = {
        "reassignment_id": reassignment_id,
        "requested_by": actor_id,
        "status": "running",
        "total": 0,
        "reassigned": 0,
        "created_at": clock.utcnow(),
        "finished_at": None,
        "correlation_id": correlation.current(),
    }
    session.execute(insert(reassignments).values(**job))
    session.execute(
        insert(reassignment_items).from_select(
            ["reassignment_id", "task_id", "done"],
            select(literal(reassignment_id), tasks.c.task_id, literal(False)).where(
                tasks.c.status == "open"
            ),
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        # The job's items arrive all at once, long before autovacuum looks: with the statistics of
        # the table as it was, the planner read all of a big job's items and sorted them for each
        # batch (bench.reassign, 100,000 tasks: 300 ms a batch). The rows of this transaction count.
        session.execute(text("ANALYZE reassignment_items"))
    job["total"] = session.scalar(
        select(func.count())
        .select_from(reassignment_items)
        .where(reassignment_items.c.reassignment_id == reassignment_id)
    )
    session.execute(
        update(reassignments)
        .where(reassignments.c.reassignment_id == reassignment_id)
        .values(total=job["total"])
    )
    notify_on_commit(session, WAKEUP_CHANNEL)
    return job


def get_reassignment(session: Session, reassignment_id: str) -> dict:
    row = (
        session.execute(
            select(reassignments).where(reassignments.c.reassignment_id == reassignment_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise TaskNotFound(f"there is no reassignment {reassignment_id}")
    return dict(row)


def running_reassignments(session: Session) -> list[str]:
    query = (
        select(reassignments.c.reassignment_id)
        .where(reassignments.c.status == "running")
        .order_by(reassignments.c.created_at)
    )
    return list(session.scalars(query))


def reassign_batch(session: Session, reassignment_id: str, batch_size: int = 500) -> int:
    """Reassign the next batch of the job's tasks; how many of them it took, 0 when none was free.

    The batch's assignments, its events and the items' `done` marks commit together: a crash
    rolls all of them back, and the resumed job picks the same tasks again, once. Two runners
    (two tracker workers on PostgreSQL) skip each other's locked items; the job is finished only
    when no item is left undone, since the batch holding the last ones may still roll back.
    """
    item_ids = list(session.scalars(next_items(reassignment_id, batch_size)))
    if not item_ids:
        if not _undone_items_left(session, reassignment_id):
            session.execute(
                update(reassignments)
                .where(reassignments.c.reassignment_id == reassignment_id)
                .values(status="done", finished_at=clock.utcnow())
            )
        return 0
    candidates = assignable_accounts(session)
    # Locked, so that a task being completed right now is either seen completed here or completed
    # after this batch commits, with its new assignee (FOR NO KEY UPDATE, the lock the UPDATE below
    # takes anyway: a completion's FOR UPDATE waits for it). By its unique index only: a condition
    # on the status made the planner read every open task first.
    picked = session.execute(
        select(*TASK_COLUMNS).where(tasks.c.task_id.in_(item_ids)).with_for_update(key_share=True)
    ).mappings()
    still_open = [domain.Task(**row) for row in picked if row["status"] == "open"]
    now = clock.utcnow()
    changes, activity, happened = [], [], []
    for task in still_open:  # a task completed since the job started is left alone
        happened += task.assign_to(domain.choose_assignee(candidates), now, reassignment_id)
        changes.append(
            {"task_id": task.task_id, "assignee_id": task.assignee_id, "version": task.version}
        )
        activity.append(activity_row(task, "assigned", task.assignee_id, reassignment_id, now))
    # on PostgreSQL one UPDATE for the batch's tasks and COPY for the rest (ates/db.py)
    update_many(session, tasks, "task_id", changes)
    insert_many(session, task_activity, activity)
    insert_many(session, outbox, OUTBOX.rows(*events.on_the_wire(happened)))
    session.execute(
        update(reassignment_items)
        .where(
            reassignment_items.c.reassignment_id == reassignment_id,
            reassignment_items.c.task_id.in_(item_ids),
        )
        .values(done=True)
    )
    session.execute(
        update(reassignments)
        .where(reassignments.c.reassignment_id == reassignment_id)
        .values(reassigned=reassignments.c.reassigned + len(changes))
    )
    return len(item_ids)


def next_items(reassignment_id: str, batch_size: int):
    """The job's next undone items, from their partial index (tracker/models.py), locked; on
    PostgreSQL two runners on one job take different ones."""
    return (
        select(reassignment_items.c.task_id)
        .where(
            reassignment_items.c.reassignment_id == reassignment_id,
            reassignment_items.c.done.is_(False),  # as the partial index says, to be used
        )
        .order_by(reassignment_items.c.task_id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


def _undone_items_left(session: Session, reassignment_id: str) -> bool:
    """Locked ones too: another runner's batch holds them until it commits or rolls back."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    reassignment_items.c.reassignment_id == reassignment_id,
                    reassignment_items.c.done.is_(False),
                )
            )
        )
    )
