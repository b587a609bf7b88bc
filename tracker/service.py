"""The tracker's use cases: one function per command, one transaction each (the caller's
session). A command loads the task, asks the domain's Task to change (tracker/domain.py), stores
what changed and writes the events the Task returned to the outbox, in that same transaction."""

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ates import clock
from ates.bus import Outbox
from ates.db import insert_together
from ates.rules import RuleBroken
from tracker import domain, events
from tracker.models import accounts, outbox, task_activity, tasks

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
        activity_row(task, "created", actor_id, None, now),
        activity_row(task, "assigned", task.assignee_id, None, now),
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
    """The task, done, and its `assignee` (a person row, as `people` gives; None for an account
    not heard of yet), from the one read that locks the task."""
    found = session.execute(TASK_LOCKED_AND_ASSIGNEE, {"task_id_": task_id}).mappings().first()
    if found is None:
        raise TaskNotFound(f"there is no task {task_id}")
    task = domain.Task(**{column.name: found[column.name] for column in TASK_COLUMNS})
    assignee = {column.name: found[f"assignee_{column.name}"] for column in PERSON_COLUMNS}
    now = clock.utcnow()
    happened = task.complete(actor_id, now)
    session.execute(
        COMPLETE,
        {
            "task_id_": task_id,
            "status_": task.status,
            "completed_at_": task.completed_at,
            "version_": task.version,
        },
    )
    insert_together(  # one round trip on PostgreSQL, as at creation
        session,
        (task_activity, [activity_row(task, "completed", actor_id, None, now)]),
        (outbox, OUTBOX.rows(*events.on_the_wire(happened))),
    )
    return {**_row(task), "assignee": assignee if assignee["account_id"] is not None else None}


def _row(task: domain.Task) -> dict:
    """The task's fields as its row: all flat values, so a shallow copy (asdict deep-copies each)."""
    return dict(vars(task))


def activity_row(
    task: domain.Task, kind: str, account_id: str, reassignment_id: str | None, at
) -> dict:
    return {
        "task_id": task.task_id,
        "kind": kind,
        "account_id": account_id,
        "reassignment_id": reassignment_id,
        "at": at,
    }


def get_task(session: Session, task_id: str) -> dict:
    row = session.execute(TASK, {"task_id_": task_id}).mappings().first()
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
    found = session.execute(PEOPLE, {"ids": wanted}).mappings()
    return {row["account_id"]: dict(row) for row in found}


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
    return {row["account_id"]: dict(row) for row in session.execute(ASSIGNABLE_PEOPLE).mappings()}


# The statements of every request, built once with bound parameters: a statement built per call
# costs SQLAlchemy its construction and its cache key each time.
TASK = select(*TASK_COLUMNS).where(tasks.c.task_id == bindparam("task_id_"))
TASK_LOCKED_AND_ASSIGNEE = (  # the task locked, its assignee's names read beside it
    select(*TASK_COLUMNS, *(column.label(f"assignee_{column.name}") for column in PERSON_COLUMNS))
    .select_from(tasks.outerjoin(accounts, accounts.c.account_id == tasks.c.assignee_id))
    .where(tasks.c.task_id == bindparam("task_id_"))
    .with_for_update(of=tasks)
)
COMPLETE = (
    update(tasks)
    .where(tasks.c.task_id == bindparam("task_id_"))
    .values(
        status=bindparam("status_"),
        completed_at=bindparam("completed_at_"),
        version=bindparam("version_"),
    )
)
PEOPLE = select(*PERSON_COLUMNS).where(accounts.c.account_id.in_(bindparam("ids", expanding=True)))
ASSIGNABLE_PEOPLE = _assignable(*PERSON_COLUMNS)
