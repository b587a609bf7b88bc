"""The CloudEvents envelope (SPEC §5) and the outbox that validates it before writing."""

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from ates.bus import Event, Outbox
from ates.db import make_engine
from ates.schemas import SchemaError, registry
from ates.unit_of_work import UnitOfWork
from tests.probe import metadata, outbox_rows

TASK_ID = uuid.UUID("3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34")
MOSCOW = timezone(timedelta(hours=3))


def task_priced(**data) -> Event:
    return Event(
        "task.priced",
        1,
        "/accounting",
        {
            "task_id": TASK_ID,
            "assign_fee": Decimal("12"),
            "completion_reward": Decimal("31.5"),
            **data,
        },
    )


def task_completed(**data) -> Event:
    return Event(
        "task.completed",
        1,
        "/tracker",
        {
            "task_id": TASK_ID,
            "assignee_id": uuid.uuid4(),
            "completed_at": datetime(2026, 3, 1, 13, 15, tzinfo=MOSCOW),
            **data,
        },
    )


@pytest.fixture
def uow(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/events.db")
    metadata.create_all(engine)
    yield UnitOfWork(engine)
    engine.dispose()


def outbox_contents(uow):
    with uow.read() as session:
        return session.execute(
            select(outbox_rows.c.event_id, outbox_rows.c.routing_key, outbox_rows.c.body)
        ).all()


def test_priced_event_becomes_a_valid_message_with_money_strings():
    message = task_priced().to_message()
    registry().validate(message)
    assert message["data"] == {
        "task_id": str(TASK_ID),
        "assign_fee": "12.00",
        "completion_reward": "31.50",
    }
    assert message["time"].endswith("Z")
    assert "correlationid" not in message


def test_completed_event_carries_its_times_in_utc_ending_in_z():
    event = replace(task_completed(), time=datetime(2026, 3, 1, 13, 15, 1, tzinfo=MOSCOW))
    message = event.to_message()
    registry().validate(message)
    assert message["data"]["completed_at"] == "2026-03-01T10:15:00Z"
    assert message["time"] == "2026-03-01T10:15:01Z"


@pytest.mark.parametrize(
    "event, routing_key, producer",
    [
        (task_priced(), "task.priced.v1", "accounting"),
        (task_completed(), "task.completed.v1", "tracker"),
    ],
)
def test_routing_key_and_producer_follow_type_version_and_source(event, routing_key, producer):
    assert (event.routing_key, event.producer) == (routing_key, producer)


def test_correlation_id_is_sent_only_when_set():
    event = replace(task_priced(), correlation_id="req-1")
    assert event.to_message()["correlationid"] == "req-1"
    registry().validate(event.to_message())


def test_message_round_trips_through_from_message():
    original = replace(task_completed(), correlation_id="req-2")
    message = original.to_message()
    again = Event.from_message(json.loads(json.dumps(message)))
    assert (again.id, again.type, again.version, again.source, again.correlation_id) == (
        original.id,
        original.type,
        original.version,
        original.source,
        "req-2",
    )
    assert again.time == original.time
    assert again.to_message() == message


INVALID = {
    "float money": lambda: task_priced(assign_fee=12.0),
    "three-place money": lambda: task_priced(assign_fee="12.345"),
    "missing field": lambda: Event("task.priced", 1, "/accounting", {"task_id": TASK_ID}),
    "naive data time": lambda: task_completed(completed_at=datetime(2026, 3, 1, 10, 15)),
    "naive envelope time": lambda: replace(task_priced(), time=datetime(2026, 3, 1, 10, 0)),
}


@pytest.mark.parametrize("bad", list(INVALID.values()), ids=list(INVALID))
def test_invalid_event_is_refused_with_schema_error(uow, bad):
    with pytest.raises(SchemaError), uow.begin() as session:
        Outbox(outbox_rows).add(session, bad())


@pytest.mark.parametrize("bad", list(INVALID.values()), ids=list(INVALID))
def test_refused_event_writes_nothing_not_even_the_valid_ones_beside_it(uow, bad):
    with pytest.raises(ValueError), uow.begin() as session:
        Outbox(outbox_rows).add(session, task_priced(), bad())
    assert outbox_contents(uow) == []


def test_each_valid_event_is_written_once_with_routing_key_and_json_body(uow):
    events = [task_priced(), task_completed()]
    with uow.begin() as session:
        Outbox(outbox_rows).add(session, *events)
    rows = sorted(outbox_contents(uow), key=lambda row: row.routing_key)
    assert [(row.event_id, row.routing_key) for row in rows] == [
        (events[1].id, "task.completed.v1"),
        (events[0].id, "task.priced.v1"),
    ]
    assert [json.loads(row.body) for row in rows] == [
        events[1].to_message(),
        events[0].to_message(),
    ]
