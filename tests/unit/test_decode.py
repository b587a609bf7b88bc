"""What the consumer makes of a delivery before any handler runs, and the headers of its copies."""

import json

import pika
import pytest

from ates.bus import Consumer, Inbox
from ates.bus.consumer import Delivery
from ates.schemas import registry
from tests.probe import handlers, inbox_rows, task_created


@pytest.fixture(scope="module")
def consumer():
    # the unit of work is never used: _decode touches neither the database nor the broker
    return Consumer(
        handlers,
        Inbox(inbox_rows, None, handlers),
        "amqp://ates-probe:pw@localhost:5672/%2F",
        (200, 400),
    )


def delivery(
    body: bytes, headers: dict | None = None, user_id: str | None = "ates-tracker", **where
) -> Delivery:
    where = {
        "queue": "probe.tracker",
        "exchange": "tracker.events",
        "routing_key": "task.created.v2",
        **where,
    }
    return Delivery(
        tag=1, properties=pika.BasicProperties(headers=headers, user_id=user_id), body=body, **where
    )


def as_body(message) -> bytes:
    return json.dumps(message).encode()


def test_valid_message_becomes_an_event(consumer):
    sent = task_created()
    event, problem = consumer._decode(delivery(as_body(sent.to_message())))
    assert problem is None
    assert (event.id, event.type, event.version, event.time) == (
        sent.id,
        "task.created",
        2,
        sent.time,
    )
    assert event.data["task_id"] == sent.data["task_id"]


@pytest.mark.parametrize("body", [b"not json", b"", b'{"type": ', b'"\xff\xfe"'])
def test_body_that_is_not_json_is_a_problem(consumer, body):
    event, problem = consumer._decode(delivery(body))
    assert event is None
    assert problem.startswith("not JSON: ")


def without_data(message):
    return {key: value for key, value in message.items() if key != "data"}


@pytest.mark.parametrize(
    "broken",
    [
        lambda m: without_data(m),
        lambda m: {**m, "data": {**m["data"], "title": 42}},
        lambda m: {**m, "id": "not-a-uuid"},
        lambda m: {**m, "dataversion": 9},
        lambda m: [m],
    ],
    ids=["no data", "wrong type", "bad id", "unknown version", "not an object"],
)
def test_message_failing_its_schema_is_a_problem(consumer, broken):
    event, problem = consumer._decode(delivery(as_body(broken(task_created().to_message()))))
    assert event is None
    assert problem.startswith("schema: ")


def test_valid_event_without_a_handler_is_a_problem(consumer):
    message = registry().examples("account.created", 1)[0]
    body = as_body(message)
    assert consumer._decode(
        delivery(
            body, exchange="auth.events", routing_key="account.created.v1", user_id="ates-auth"
        )
    ) == (None, "probe has no handler for account.created v1")


@pytest.mark.parametrize("own", [None, {"x-trace": "t1"}])
def test_first_copy_records_where_the_message_came_from(consumer, own):
    original = delivery(b"{}", headers=None if own is None else dict(own))
    assert consumer._headers_with_origin(original) == {
        **(own or {}),
        "ates-queue": "probe.tracker",
        "ates-original-exchange": "tracker.events",
        "ates-original-routing-key": "task.created.v2",
        "ates-original-user-id": "ates-tracker",
    }
    assert original.properties.headers == own  # the delivery's own headers are left alone


def test_later_copy_keeps_the_original_routing_key(consumer):
    # back from a wait queue: our retry exchange delivered it under the queue's own name
    origin = {
        "ates-queue": "probe.tracker",
        "ates-original-exchange": "tracker.events",
        "ates-original-routing-key": "task.created.v2",
        "ates-original-user-id": "ates-tracker",
        "ates-attempts": 1,
    }
    returned = delivery(
        b"{}",
        headers=dict(origin),
        exchange="probe.retry",
        routing_key="probe.tracker",
        user_id="ates-probe",
    )
    assert consumer._headers_with_origin(returned) == origin
