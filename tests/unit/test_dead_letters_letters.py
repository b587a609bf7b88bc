"""What a dead letter says about itself, how letters group, and the headers a replay starts with."""

import dataclasses
import json

import pika
import pytest

from ates.dead_letters.letter import (
    dead_name,
    letter_from,
    management_url_for,
    reason_group,
    replay_headers,
    rewritable,
)

EVENT_ID = "0a4cbb3e-8d55-4d8e-b7a9-4a0f3f1a2b3c"
EVENT = {
    "specversion": "1.0",
    "id": EVENT_ID,
    "source": "/tracker",
    "type": "task.completed",
    "dataversion": 1,
    "time": "2026-03-01T10:15:00Z",
    "data": {},
}
DEAD_HEADERS = {
    "ates-reason": b"schema: data: 'completed_at' is a required property",
    "ates-queue": "accounting.tracker",
    "ates-original-exchange": "tracker.events",
    "ates-original-routing-key": "task.completed.v1",
    "ates-attempts": 3,
    "ates-dead-at": "2026-03-01T10:16:00Z",
    "x-delivery-count": 2,
}


def letter(body: bytes, headers=None, **properties):
    return letter_from(
        "accounting.tracker.dead", pika.BasicProperties(headers=headers, **properties), body
    )


def test_a_cloudevent_letter_is_keyed_by_its_event_id_and_says_what_it_is():
    found = letter(json.dumps(EVENT).encode(), DEAD_HEADERS)
    assert (found.key, found.event_id, found.type, found.version, found.time) == (
        EVENT_ID,
        EVENT_ID,
        "task.completed",
        1,
        "2026-03-01T10:15:00Z",
    )
    assert found.reason == "schema: data: 'completed_at' is a required property"
    assert (found.dead_at, found.attempts, found.replays) == ("2026-03-01T10:16:00Z", 3, 0)
    assert (found.original_queue, found.original_exchange, found.original_routing_key) == (
        "accounting.tracker",
        "tracker.events",
        "task.completed.v1",
    )


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"id": 42}', b'{"id": "has spaces in it"}']
)
def test_a_body_that_is_no_usable_cloudevent_is_keyed_by_its_hash_and_still_makes_a_letter(body):
    first, again = (
        letter(body, {"ates-reason": "not JSON: oops"}),
        letter(body, {"ates-reason": "not JSON: oops"}),
    )
    assert first.key.startswith("body-") and first.key == again.key
    assert first.key != letter(body + b" ", {"ates-reason": "not JSON: oops"}).key
    assert first.original_queue == "accounting.tracker"


def test_a_body_without_type_takes_the_message_properties():
    found = letter(b"{not json", {"ates-reason": "not JSON"}, message_id="m-1", type="task.created")
    assert (found.event_id, found.type, found.version, found.time) == (
        "m-1",
        "task.created",
        None,
        None,
    )


def test_a_letter_the_broker_dead_lettered_itself_names_its_origin_from_x_death():
    headers = {
        "x-first-death-reason": "delivery_limit",
        "x-first-death-queue": "accounting.tracker",
        "x-first-death-exchange": "tracker.events",
        "x-death": [
            {
                "queue": "accounting.tracker",
                "reason": "delivery_limit",
                "count": 1,
                "exchange": "tracker.events",
                "routing-keys": ["task.completed.v1"],
            }
        ],
    }
    found = letter(json.dumps(EVENT).encode(), headers)
    assert found.reason == "dead-lettered by the broker: delivery_limit"
    assert (found.original_queue, found.original_exchange, found.original_routing_key) == (
        "accounting.tracker",
        "tracker.events",
        "task.completed.v1",
    )


def test_a_letter_with_no_headers_at_all_goes_back_to_the_queue_its_dead_queue_belongs_to():
    found = letter(json.dumps(EVENT).encode())
    assert (found.reason, found.original_queue, found.original_routing_key) == (
        "no reason given",
        "accounting.tracker",
        None,
    )


@pytest.mark.parametrize(
    "reason,group",
    [
        (
            f"gave up after 6 tries: not yet: task {EVENT_ID} is not known yet",
            "gave up after 6 tries: not yet: task <id> is not known yet",
        ),
        ("not JSON: Expecting value: line 1 column 1 (char 0)", "not JSON"),
        ("schema: no schema for task.created v7", "schema: no schema for task.created v7"),
    ],
)
def test_letters_group_by_their_reason_with_ids_masked(reason, group):
    assert reason_group(reason) == group
    assert reason_group(group) == group, "a group's own name chooses the group"


def test_a_replay_starts_its_retries_afresh_keeps_its_origin_and_counts_the_replay():
    found = letter(json.dumps(EVENT).encode(), {**DEAD_HEADERS, "ates-replays": 1, "trace": "kept"})
    assert replay_headers(found, {**DEAD_HEADERS, "ates-replays": 1, "trace": "kept"}) == {
        "ates-queue": "accounting.tracker",
        "ates-original-exchange": "tracker.events",
        "ates-original-routing-key": "task.completed.v1",
        "ates-attempts": 0,
        "ates-replays": 2,
        "trace": "kept",
    }


def test_a_queue_is_named_with_or_without_its_dead_suffix():
    assert (
        dead_name("accounting.tracker")
        == dead_name("accounting.tracker.dead")
        == "accounting.tracker.dead"
    )


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "http://rabbit.internal:15672"),
        ({"ATES_RABBITMQ_MANAGEMENT_URL": "https://rabbit.example/"}, "https://rabbit.example"),
        (
            {
                "ATES_RABBITMQ_MANAGEMENT_URL": "https://rabbit.example/",
                "ATES_RABBITMQ_MANAGEMENT_API_URL": "http://rabbitmq:15672",
            },
            "http://rabbitmq:15672",
        ),
    ],
)
def test_the_management_api_is_found_from_the_environment_else_on_the_broker_host(env, expected):
    assert management_url_for("amqp://ates:secret@rabbit.internal:5672/%2F", env) == expected


def test_properties_that_are_no_utf8_are_shown_as_text():
    # pika hands over a short string that is no UTF-8 as bytes; a letter is rendered as text (and as JSON)
    found = letter(
        b"{not json", {"ates-reason": "not JSON"}, message_id=b"m-\xfe", type=b"task.\xff"
    )
    assert (found.event_id, found.type) == ("m-\ufffd", "task.\ufffd")
    assert json.dumps(dataclasses.asdict(found))


@pytest.mark.parametrize(
    "routing_keys", [5, True, {"first": "task.completed.v1"}, "task.completed.v1", []]
)
def test_an_x_death_whose_routing_keys_are_no_list_names_no_origin(routing_keys):
    headers = {
        "ates-reason": "schema: no",
        "ates-original-routing-key": None,
        "x-death": [{"queue": "accounting.tracker", "routing-keys": routing_keys}],
    }
    assert letter(json.dumps(EVENT).encode(), headers).original_routing_key is None


@pytest.mark.parametrize(
    "count", [2**63 - 1, 2**31, -1, "9" * 30, float("inf"), float("nan"), b"\xff", [3]]
)
def test_a_garbled_count_is_none_and_a_replay_can_still_count_one_more(count):
    headers = {**DEAD_HEADERS, "ates-attempts": count, "ates-replays": count}
    found = letter(json.dumps(EVENT).encode(), headers)
    assert (found.attempts, found.replays) == (0, 0)
    replayed = replay_headers(found, headers)
    assert replayed["ates-replays"] == 1 and pika.BasicProperties(headers=replayed).encode()


def test_a_replay_is_routed_nowhere_but_its_queue():
    headers = {**DEAD_HEADERS, "CC": ["accounting.tracker"], "BCC": ["accounting.tracker.dead"]}
    replayed = replay_headers(letter(json.dumps(EVENT).encode(), headers), headers)
    assert "CC" not in replayed and "BCC" not in replayed


def test_ints_pika_cannot_write_become_text_wherever_they_are():
    assert rewritable(
        {"a": 2**64, "b": [{"c": -(2**63) - 1, "d": 2**63 - 1}], "e": True, "f": "text"}
    ) == {"a": str(2**64), "b": [{"c": str(-(2**63) - 1), "d": 2**63 - 1}], "e": True, "f": "text"}
