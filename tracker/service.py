"""The tracker's use cases: one function per command, one transaction each (the caller's
session). A command loads the task, asks the domain's Task to change (tracker/domain.py), stores
what changed and writes the events the Task returned to the outbox, in that same transaction."""

import uuid

from sqlalchemy import exists, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from ates import clock, correlation
from ates.bus import Outbox
from ates.db import insert_many, insert_together, update_many
from ates.rules import RuleBroken
from tracker import domain, events
from tracker.models import accounts, outbox, reassignment_items, reassignments, task_activity, tasks

OUTBOX = Outbox(outbox)
TASK_COLUMNS = (
    tasks.c.task_id,
    tasks.c.jira_id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.status,
    tasks.c.assignee_id,
    tasks.c.created_at,
    tasks.c.completed_at,
    tasks.c.version,
)


class TaskNotFound(RuleBroken):
    code, status = "not_found", 404


def create_task(
    session: Session, actor_id: str, title: str, description: str = "", jira_id: str | None = None
) -> dict:
    """The new task, its `assignee` (a person row, as `people` gives) beside its fields: the names
    come from the one read that finds who can be assigned, not from a second query."""
    now = clock.utcnow()
    candidates = assignable_people(session)
    task, happened = domain.Task.create(title, description, jira_id, list(candidates), now)
    row = _row(task)
    activity = [
        _activity(task, "created", actor_id, None, now),
        _activity(task, "assigned", task.assignee_id, None, now),
    ]
    # the task, its activity and its events in one statement on PostgreSQL: one round trip
    insert_together(
        session,
        (tasks, [row]),
        (task_activity, activity),
        (outbox, OUTBOX.rows(*events.on_the_wire(happened))),
    )
    return {**row, "assignee": candidates[task.assignee_id]}


def complete_task(session: Session, actor_id: str, task_id: str) -> dict:
    task = domain.Task(**get_task(session, task_id, for_update=True))
    now = clock.utcnow()
    happened = task.complete(actor_id, now)
    session.execute(
        update(tasks)
        .where(tasks.c.task_id == task_id)
        .values(status=task.status, completed_at=task.completed_at, version=task.version)
    )
    insert_together(  # one round trip on PostgreSQL, as at creation
        session,
        (task_activity, [_activity(task, "completed", actor_id, None, now)]),
        (outbox, OUTBOX.rows(*events.on_the_wire(happened))),
    )
    return _row(task)


def _row(task: domain.Task) -> dict:
    """The task's fields as its row: all flat values, so a shallow copy (asdict deep-copies each)."""
    return dict(vars(task))


def _activity(
    task: domain.Task, kind: str, account_id: str, reassignment_id: str | None, at
) -> dict:
    return {
        "task_id": task.task_id,
        "kind": kind,
        "account_id": account_id,
        "reassignment_id": reassignment_id,
        "at": at,
    }


def get_task(session: Session, task_id: str, for_update: bool = False) -> dict:
    query = select(*TASK_COLUMNS).where(tasks.c.task_id == task_id)
    row = session.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None:
        raise TaskNotFound(f"there is no task {task_id}")
    return dict(row)


def list_tasks(
    session: Session,
    assignee_id: str | None,
    status: str | None,
    limit: int,
    offset: int = 0,
    before: int | None = None,
) -> list[dict]:
    """Newest first; each with its `position`, which `before` takes to go on past it."""
    query = (
        select(*TASK_COLUMNS, tasks.c.id.label("position"))
        .order_by(tasks.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if before is not None:
        query = query.where(tasks.c.id < before)
    if assignee_id is not None:
        query = query.where(tasks.c.assignee_id == assignee_id)
    if status is not None:
        query = query.where(tasks.c.status == status)
    return [dict(row) for row in session.execute(query).mappings()]


PERSON_COLUMNS = (
    accounts.c.account_id,
    accounts.c.username,
    accounts.c.full_name,
    accounts.c.role,
    accounts.c.active,
)


def people(session: Session, account_ids: list[str]) -> dict[str, dict]:
    """The named accounts among these ids, by id (one query, whatever the number of ids)."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    query = select(*PERSON_COLUMNS).where(accounts.c.account_id.in_(wanted))
    return {row["account_id"]: dict(row) for row in session.execute(query).mappings()}


def every_person(session: Session) -> list[dict]:
    query = select(*PERSON_COLUMNS).order_by(
        func.lower(func.coalesce(accounts.c.full_name, accounts.c.username)), accounts.c.account_id
    )
    return [dict(row) for row in session.execute(query).mappings()]


def task_activity_log(session: Session, task_id: str) -> list[dict]:
    query = (
        select(
            task_activity.c.kind,
            task_activity.c.account_id,
            task_activity.c.reassignment_id,
            task_activity.c.at,
        )
        .where(task_activity.c.task_id == task_id)
        .order_by(task_activity.c.id)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def _assignable(*columns):
    return select(*columns).where(accounts.c.assignable).order_by(accounts.c.account_id)


def assignable_accounts(session: Session) -> list[str]:
    return list(session.scalars(_assignable(accounts.c.account_id)))


def assignable_people(session: Session) -> dict[str, dict]:
    """The assignable accounts' person rows by id, in `assignable_accounts`' order."""
    query = _assignable(*PERSON_COLUMNS)
    return {row["account_id"]: dict(row) for row in session.execute(query).mappings()}


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
    # after this batch commits, with its new assignee. By its unique index only: a condition on
    # the status made the planner read every open task first.
    picked = session.execute(
        select(*TASK_COLUMNS).where(tasks.c.task_id.in_(item_ids)).with_for_update()
    ).mappings()
    still_open = [domain.Task(**row) for row in picked if row["status"] == "open"]
    now = clock.utcnow()
    changes, activity, happened = [], [], []
    for task in still_open:  # a task completed since the job started is left alone
        happened += task.assign_to(domain.choose_assignee(candidates), now, reassignment_id)
        changes.append(
            {"task_id": task.task_id, "assignee_id": task.assignee_id, "version": task.version}
        )
        activity.append(_activity(task, "assigned", task.assignee_id, reassignment_id, now))
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
