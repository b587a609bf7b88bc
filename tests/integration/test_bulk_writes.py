"""ates.db.insert_many and update_many: a reassignment batch's rows written by COPY and by one
UPDATE joined to arrays on PostgreSQL, by executemany on SQLite, and read back the same either way:
text that COPY would take for its own syntax, NULLs, UTC times, and refusals as an INSERT's."""

import select as select_module
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import exc, select

from ates import migrations
from ates.bus.wakeup import CHANNEL
from ates.db import insert_many, make_engine, update_many
from ates.unit_of_work import UnitOfWork
from tests.databases import postgres_database, tracker_unit_of_work
from tracker.models import outbox, task_activity, tasks

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
AWKWARD = [
    "plain",
    "back\\slash and \\N, which COPY reads as NULL unescaped",
    "tab\there, new\nline, return\r",
    '{"json":"with \\"quotes\\" and \\\\ escapes"}',
    "ünïcødé 🦜",
    "",
    "\\.",  # COPY's old end-of-data marker
]


@pytest.fixture(params=["sqlite", "postgresql"])
def uow(request, tmp_path):
    with tracker_unit_of_work(request.param, tmp_path, "bulk") as uow:
        yield uow


def a_task(title: str, description: str = "", jira_id: str | None = None) -> dict:
    return {
        "task_id": str(uuid.uuid4()),
        "jira_id": jira_id,
        "title": title,
        "description": description,
        "status": "open",
        "assignee_id": str(uuid.uuid4()),
        "created_at": AT.astimezone(ZoneInfo("Asia/Tokyo")),  # the same moment, elsewhere
        "completed_at": None,
        "version": 1,
    }


def stored_tasks(uow) -> dict[str, dict]:
    with uow.read() as session:
        rows = session.execute(select(tasks).order_by(tasks.c.id)).mappings()
        return {row["task_id"]: {k: v for k, v in row.items() if k != "id"} for row in rows}


def test_rows_come_back_as_given_awkward_text_nulls_and_times_included(uow):
    given = [
        a_task(text, description=text[::-1], jira_id=None if n % 2 else text[:40])
        for n, text in enumerate(AWKWARD)
    ]
    with uow.begin() as session:
        insert_many(session, tasks, given)
    stored = stored_tasks(uow)
    assert list(stored) == [row["task_id"] for row in given], "kept in the order given"
    for row in given:
        assert stored[row["task_id"]] == {**row, "created_at": AT}
        assert stored[row["task_id"]]["created_at"].utcoffset().total_seconds() == 0


def test_a_naive_time_is_refused_and_nothing_is_stored(uow):
    naive = {**a_task("naive"), "created_at": datetime(2026, 12, 4, 9, 30)}
    with pytest.raises((ValueError, exc.StatementError)), uow.begin() as session:
        insert_many(session, tasks, [a_task("fine"), naive])
    assert stored_tasks(uow) == {}


def test_a_row_breaking_a_constraint_rolls_back_the_whole_write(uow):
    with pytest.raises(exc.IntegrityError), uow.begin() as session:
        insert_many(
            session,
            task_activity,
            [
                {
                    "task_id": str(uuid.uuid4()),  # no such task: the foreign key refuses it
                    "kind": "assigned",
                    "account_id": str(uuid.uuid4()),
                    "reassignment_id": None,
                    "at": AT,
                }
            ],
        )
    with uow.read() as session:
        assert session.execute(select(task_activity)).first() is None


def test_update_many_changes_exactly_the_rows_named_by_their_key(uow):
    given = [a_task(f"task {n}") for n in range(5)]
    with uow.begin() as session:
        insert_many(session, tasks, given)
    changes = [
        {"task_id": given[n]["task_id"], "assignee_id": str(uuid.uuid4()), "version": 2 + n}
        for n in (1, 3)
    ]
    with uow.begin() as session:
        update_many(session, tasks, "task_id", changes)
    stored = stored_tasks(uow)
    for n, row in enumerate(given):
        change = next((c for c in changes if c["task_id"] == row["task_id"]), {})
        assert stored[row["task_id"]] == {**row, "created_at": AT, **change}, f"task {n}"


def an_event(body: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "task.assigned",
        "routing_key": "task.assigned.v1",
        "body": body,
        "created_at": AT,
    }


def test_events_written_by_copy_keep_their_bodies_byte_for_byte(uow):
    bodies = [f'{{"specversion":"1.0","data":{{"title":"{text!r}"}}}}' for text in AWKWARD]
    with uow.begin() as session:
        insert_many(session, outbox, [an_event(body) for body in bodies])
    with uow.read() as session:
        stored = list(session.scalars(select(outbox.c.body).order_by(outbox.c.id)))
    assert stored == bodies


def test_events_written_by_copy_wake_the_relay_as_an_insert_does():
    """The outbox's statement trigger (ates/bus/wakeup.py, PostgreSQL's NOTIFY; SQLite's relay
    polls) fires for COPY too: the relay hears of a reassignment batch's events at commit, not at
    its next poll."""
    with postgres_database("bulk_wakeup") as url:
        migrations.upgrade(ROOT / "tracker" / "migrations", url)
        engine = make_engine(url)
        listener = engine.raw_connection()
        try:
            listening = listener.driver_connection
            listening.autocommit = True
            listening.cursor().execute(f"LISTEN {CHANNEL}")
            with UnitOfWork(engine).begin() as session:
                insert_many(session, outbox, [an_event("{}")])
            deadline = time.monotonic() + 5
            while not listening.notifies and time.monotonic() < deadline:
                select_module.select([listening], [], [], 0.1)
                listening.poll()
            assert [notice.channel for notice in listening.notifies] == [CHANNEL]
        finally:
            listener.close()
            engine.dispose()
