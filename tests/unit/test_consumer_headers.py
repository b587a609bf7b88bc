"""What the consumer takes from a delivery's properties and headers, and what its retry and dead-letter copies
carry, when a producer sends odd ones: the copy must be one pika can write and the broker takes, and routes
nowhere else (the cases tests/integration/test_header_fuzz.py found)."""

import json
from decimal import Decimal

import pika
import pytest

from ates.bus import Consumer, Inbox
from ates.bus.consumer import Delivery, _attempts_so_far
from tests.probe import handlers, inbox_rows, task_created

WAIT = "probe.tracker.delay.200ms"


@pytest.fixture(scope="module")
def consumer():
    # the unit of work is never used: decoding and publishing copies touch no database
    return Consumer(
        handlers,
        Inbox(inbox_rows, None, handlers),
        "amqp://ates-probe:pw@localhost:5672/%2F",
        (200, 400),
    )


class RecordingChannel:
    def __init__(self):
        self.published: list[tuple[str, pika.BasicProperties]] = []
        self.exchanges: list[str] = []

    def basic_publish(self, exchange, routing_key, body, properties, mandatory):
        self.published.append((routing_key, properties))
        self.exchanges.append(exchange)


def delivery(
    body: bytes = b"{}", headers: dict | None = None, exchange: str = "tracker.events", **properties
) -> Delivery:
    return Delivery(
        tag=1,
        queue="probe.tracker",
        exchange=exchange,
        routing_key="task.created.v2",
        properties=pika.BasicProperties(headers=headers, **properties),
        body=body,
    )


def writable(properties: pika.BasicProperties) -> bool:
    return bool(properties.encode())  # raises what basic_publish would raise


@pytest.mark.parametrize(
    "property_id, taken", [(b"\xff\xfe", None), ("request-7", "request-7"), ("has spaces", None)]
)
def test_only_a_sane_text_correlation_id_property_is_taken_for_the_event(
    consumer, property_id, taken
):
    body = json.dumps(task_created().to_message()).encode()
    event, problem = consumer._decode(
        delivery(body, correlation_id=property_id, user_id="ates-tracker")
    )
    assert problem is None and event.correlation_id == taken


@pytest.mark.parametrize(
    "attempts, counted",
    [
        (float("inf"), 0),
        (float("-inf"), 0),
        (float("nan"), 0),
        ("1e400", 0),
        (b"\xff", 0),
        ([], 0),
        (-3, 0),
        (Decimal("2.5"), 2),
        (b"2", 2),
        (2, 2),
    ],
)
def test_a_garbled_attempts_header_counts_as_none_so_far(attempts, counted):
    assert _attempts_so_far({"ates-attempts": attempts}) == counted


def test_an_int_past_64_bits_goes_on_as_text_so_that_pika_can_write_the_copy(consumer):
    # what pika makes of another client's double 1e300 or -1e19: an int it cannot write back
    huge = int(1e300)
    headers = consumer._headers_with_origin(
        delivery(headers={"big": huge, "deep": [{"small": -(2**63), "low": -(2**64)}]})
    )
    assert (headers["big"], headers["deep"]) == (
        str(huge),
        [{"small": -(2**63), "low": str(-(2**64))}],
    )
    assert writable(pika.BasicProperties(headers=headers))


def test_a_copy_goes_back_to_the_queue_it_came_from_and_nowhere_else(consumer):
    forged = {
        "ates-queue": "accounting.tracker",
        "CC": ["probe.tracker"],
        "BCC": ["probe.tracker.dead"],
    }
    headers = consumer._headers_with_origin(delivery(headers=forged))
    assert headers["ates-queue"] == "probe.tracker"
    assert "CC" not in headers and "BCC" not in headers


def test_a_dead_letter_is_the_consumers_own_publish_and_never_expires(consumer):
    channel = RecordingChannel()
    consumer._dead_letter(
        channel, delivery(user_id="the-producer", expiration="60000"), "schema: no", "schema"
    )
    [(queue, properties)] = channel.published
    assert (channel.exchanges, queue) == (
        ["probe.dead"],
        "probe.tracker.dead",
    )  # never the default exchange
    assert (properties.user_id, properties.expiration, properties.delivery_mode) == (
        "ates-probe",
        None,
        2,
    )
    assert properties.headers["ates-original-user-id"] == "the-producer"


@pytest.mark.parametrize(
    "x_death, kept",
    [
        ([1, "a"], False),
        ([{"queue": WAIT, "reason": "expired", "count": "x"}], False),
        ([{"queue": WAIT, "reason": "expired", "count": True}], False),
        (
            [
                {
                    "queue": WAIT,
                    "reason": "expired",
                    "count": 2,
                    "exchange": "",
                    "routing-keys": ["probe.tracker"],
                }
            ],
            True,
        ),
        ([{}], True),
        ("not a list: the broker replaces it", True),
    ],
)
def test_a_retry_copy_keeps_only_an_x_death_the_broker_can_add_to(consumer, x_death, kept):
    channel = RecordingChannel()
    consumer._retry(channel, delivery(headers={"x-death": x_death}), "not yet: task unknown")
    [(queue, properties)] = channel.published
    assert (
        channel.exchanges == ["probe.retry"]
        and queue == WAIT
        and properties.headers["ates-attempts"] == 1
    )
    assert ("x-death" in properties.headers) is kept


def test_a_copy_that_would_pass_the_frame_size_keeps_only_our_headers(consumer):
    # fits as it came (~130,950 bytes of properties), but not with the copy's own headers added
    channel = RecordingChannel()
    near_the_limit = {"padding": "x" * 130_900, "other": 1}
    assert len(b"".join(pika.BasicProperties(headers=near_the_limit).encode())) < 131_064
    consumer._dead_letter(channel, delivery(headers=near_the_limit), "schema: no", "schema")
    [(_queue, properties)] = channel.published
    assert properties.headers["ates-reason"] == "schema: no"
    assert properties.headers["ates-queue"] == "probe.tracker"
    assert properties.headers["ates-headers-dropped"] == 2 and "padding" not in properties.headers
    assert len(b"".join(properties.encode())) < 131_072 - 1024


def test_a_copy_within_the_frame_size_keeps_every_header_and_a_reason_is_cut_to_its_limit(consumer):
    channel = RecordingChannel()
    consumer._retry(
        channel, delivery(headers={"padding": "x" * 100_000}), "ValueError: " + "y" * 5_000
    )
    [(_queue, properties)] = channel.published
    assert (
        properties.headers["padding"] == "x" * 100_000
        and "ates-headers-dropped" not in properties.headers
    )
    assert len(properties.headers["ates-reason"]) == 1000


# --- trust: who the broker says published, against what the event says ------------------------------------

ORIGIN = {
    "ates-original-user-id": "ates-tracker",
    "ates-original-exchange": "tracker.events",
    "ates-original-routing-key": "task.created.v2",
}


@pytest.mark.parametrize(
    "exchange, user_id, headers, trusted",
    [
        ("tracker.events", "ates-tracker", None, True),
        ("tracker.events", None, None, False),  # the broker vouches for nobody
        ("tracker.events", "ates-auth", None, False),  # another service's user
        ("tracker.events", "ates-tracker-x", None, False),
        ("", "ates-tracker", None, False),  # straight into the queue through the default exchange
        ("auth.events", "ates-tracker", None, False),
        (
            "tracker.events",
            None,
            ORIGIN,
            False,
        ),  # the producer's own word about its origin counts for nothing
        ("probe.retry", "ates-probe", ORIGIN, True),  # our retry copy, back from its wait queue
        ("probe.retry", "ates-operator", ORIGIN, True),  # an operator's replay
        (
            "probe.retry",
            "ates-tracker",
            ORIGIN,
            False,
        ),  # only we and the operator write our retry exchange
        ("probe.retry", "ates-probe", {**ORIGIN, "ates-original-user-id": "ates-auth"}, False),
        ("probe.retry", "ates-probe", {**ORIGIN, "ates-original-exchange": "auth.events"}, False),
        ("probe.retry", "ates-probe", None, False),
    ],
)
def test_an_event_is_trusted_only_as_the_broker_says_its_producer_sent_it(
    consumer, exchange, user_id, headers, trusted
):
    body = json.dumps(task_created().to_message()).encode()
    _event, problem = consumer._decode(
        delivery(body, headers=headers, exchange=exchange, user_id=user_id)
    )
    assert (problem is None) is trusted, problem
    if not trusted:
        assert problem.startswith("untrusted producer: ")


def test_a_copy_records_where_the_broker_says_the_event_came_from(consumer):
    headers = consumer._headers_with_origin(
        delivery(
            headers={**ORIGIN, "ates-original-user-id": "ates-auth"},
            exchange="tracker.events",
            user_id="ates-tracker",
        )
    )
    assert (headers["ates-original-user-id"], headers["ates-original-exchange"]) == (
        "ates-tracker",
        "tracker.events",
    )
    back = consumer._headers_with_origin(
        delivery(headers=headers, exchange="probe.retry", user_id="ates-probe")
    )
    assert (
        back["ates-original-user-id"] == "ates-tracker"
        and back["ates-original-exchange"] == "tracker.events"
    )


def test_a_consumer_whose_broker_user_does_not_name_its_service_refuses_to_start():
    with pytest.raises(ValueError, match="ates-probe"):
        Consumer(
            handlers,
            Inbox(inbox_rows, None, handlers),
            "amqp://guest:guest@localhost:5672/%2F",
            (200,),
        )
