"""ates.db.insert_together: a tracker task, its activity rows and its events stored as one
statement on PostgreSQL (one round trip) and one by one on SQLite, with the same rows either way."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import exc, select

from ates.db import insert_together
from tests.databases import statements_sent, tracker_unit_of_work
from tracker.models import outbox, task_activity, tasks

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def uow(request, tmp_path):
    with tracker_unit_of_work(request.param, tmp_path, "together") as uow:
        yield uow


def a_task(task_id: str, at: datetime = AT) -> dict:
    return {
        "task_id": task_id,
        "jira_id": None,
        "title": "Feed the parrots",
        "description": "all of them",
        "status": "open",
        "assignee_id": str(uuid.uuid4()),
        "created_at": at,
        "completed_at": None,
        "version": 1,
    }


def activity(task_id: str, kind: str) -> dict:
    return {
        "task_id": task_id,
        "kind": kind,
        "account_id": str(uuid.uuid4()),
        "reassignment_id": None,
        "at": AT,
    }


def an_event(n: int) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "task.created",
        "routing_key": "task.created.v2",
        "body": f'{{"n":{n}}}',
        "created_at": AT,
    }


def statements(uow, work) -> list[str]:
    with statements_sent(uow.engine) as sent, uow.begin() as session:
        work(session)
    return [statement for statement in sent if not statement.startswith("BEGIN")]


def test_rows_of_three_tables_land_as_given_in_one_statement_on_postgresql(uow):
    task_id = str(uuid.uuid4())
    # a time in another zone goes in as the same moment, as the column's type makes it
    task = a_task(task_id, AT.astimezone(ZoneInfo("Asia/Tokyo")))
    events = [an_event(1), an_event(2), an_event(3)]
    sent = statements(
        uow,
        lambda session: insert_together(
            session,
            (tasks, [task]),
            (task_activity, [activity(task_id, "created"), activity(task_id, "assigned")]),
            (outbox, []),  # an empty part is left out
            (outbox, events),
        ),
    )
    assert len(sent) == (1 if uow.engine.dialect.name == "postgresql" else 3), sent
    with uow.read() as session:
        stored = session.execute(select(tasks).where(tasks.c.task_id == task_id)).mappings().one()
        kinds = session.scalars(
            select(task_activity.c.kind)
            .where(task_activity.c.task_id == task_id)
            .order_by(task_activity.c.id)
        ).all()
        bodies = session.scalars(select(outbox.c.body).order_by(outbox.c.id)).all()
    assert {key: stored[key] for key in task} == {**task, "created_at": AT}
    assert stored["created_at"].utcoffset() == timedelta(0)
    assert kinds == ["created", "assigned"]
    assert bodies == ['{"n":1}', '{"n":2}', '{"n":3}']  # in the order given


def test_a_refused_part_stores_nothing_of_the_statement(uow):
    task_id = str(uuid.uuid4())
    with uow.begin() as session:
        insert_together(session, (tasks, [a_task(task_id)]))
    with pytest.raises(exc.IntegrityError), uow.begin() as session:
        insert_together(
            session,
            (task_activity, [activity(task_id, "assigned")]),
            (tasks, [a_task(task_id)]),  # the same task_id again: refused
            (outbox, [an_event(1)]),
        )
    with uow.read() as session:
        assert session.scalars(select(task_activity.c.kind)).all() == []
        assert session.scalars(select(outbox.c.body)).all() == []


def test_an_activity_row_for_a_task_inserted_beside_it_keeps_the_foreign_key(uow):
    """The activity row refers to the task the same statement inserts: PostgreSQL checks foreign
    keys at the statement's end, so it passes; a row for no task is still refused (SQLite, one
    statement after another, the same)."""
    task_id = str(uuid.uuid4())
    with uow.begin() as session:
        insert_together(
            session, (tasks, [a_task(task_id)]), (task_activity, [activity(task_id, "created")])
        )
    with pytest.raises(exc.IntegrityError), uow.begin() as session:
        insert_together(
            session,
            (tasks, [a_task(str(uuid.uuid4()))]),
            (task_activity, [activity(str(uuid.uuid4()), "created")]),
        )
