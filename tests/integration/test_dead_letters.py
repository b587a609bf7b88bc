"""Dead letters made by a real consumer on the real RabbitMQ: listed, shown, replayed, discarded, through the
library, `ates dlq` and the admin page; whatever is not chosen stays in `.dead` as it was."""

import json
import re

import pika
import pytest

from ates.bus import Consumer, Inbox
from ates.dead_letters.queues import DeadLetters, NotFound, UnknownQueue
from cli.main import main as ates
from tests import probe as probe_module
from tests.conftest import eventually
from tests.probe import QUEUE, task_completed, task_created
from tests.unit.test_dead_letters_page import gateway_app, sign_in_as

pytestmark = pytest.mark.broker

DEAD = f"{QUEUE}.dead"
SCHEMA_FAILURE = "schema: data: 'completed_at' is a required property"
NOT_YET = "gave up after 2 tries: not yet: task <id> is not known yet"


@pytest.fixture
def dead_letters(probe, start, broker):
    """The probe's consumer running (one quick retry, so that "not yet" dies within a second), and
    the tool."""
    inbox = Inbox(probe_module.inbox_rows, probe.uow, probe_module.handlers)
    start(Consumer(probe_module.handlers, inbox, broker.url("probe"), retry_delays_ms=(50,)))

    def consuming():  # the consumer subscribes only once its queues and bindings are declared
        try:
            with broker.channel() as channel:
                return channel.queue_declare(QUEUE, passive=True).method.consumer_count > 0
        except pika.exceptions.ChannelClosedByBroker:
            return False

    eventually(consuming, message=f"the consumer to be on {QUEUE}")
    return DeadLetters(broker.url("operator"))


def failing_schema(broker) -> dict:
    broken = task_completed(task_created().data["task_id"]).to_message()
    del broken["data"]["completed_at"]
    broker.publish_raw("tracker.events", "task.completed.v1", json.dumps(broken).encode())
    return broken


def not_json(broker, body: bytes = b"{not json") -> bytes:
    broker.publish_raw("tracker.events", "task.completed.v1", body)
    return body


def unknown_version(broker) -> dict:
    message = task_created().to_message()
    message["dataversion"] = 7
    broker.publish_raw("", QUEUE, json.dumps(message).encode())
    return message


def not_yet(broker) -> dict:
    """A completion whose task the probe has not heard of: retried once, then dead."""
    message = task_completed(task_created().data["task_id"]).to_message()
    broker.publish_raw(
        "tracker.events", "task.completed.v1", json.dumps(message).encode(), "tracker"
    )
    return message


def arrives(broker, probe, completion: dict) -> None:
    """The task a dead completion waited for arrives after all."""
    created = task_created(completion["data"]["task_id"])
    before = probe.applied_count()
    broker.publish_raw(
        "tracker.events", "task.created.v2", json.dumps(created.to_message()).encode(), "tracker"
    )
    eventually(lambda: probe.applied_count() > before, message="the task to be applied")


def wait_dead(broker, expected: int) -> None:
    eventually(
        lambda: broker.message_count(DEAD) == expected, message=f"{expected} messages in {DEAD}"
    )


def snapshot(dead_letters: DeadLetters) -> dict:
    """Every letter in the queue in full, by key: what `show` gives, for before/after comparisons."""
    [queue] = dead_letters.list(QUEUE)
    return {letter.key: dead_letters.show(QUEUE, letter.key) for letter in queue.letters}


def test_letters_are_listed_by_queue_and_reason_with_type_id_and_time(dead_letters, broker):
    broken = [failing_schema(broker), failing_schema(broker)]
    not_json(broker)
    odd = unknown_version(broker)
    wait_dead(broker, 4)

    assert dead_letters.queues() == [DEAD], (
        "only .dead queues, not the consumer's own or its wait queues"
    )
    [queue] = dead_letters.list()
    assert (queue.name, queue.count, queue.truncated) == (DEAD, 4, False)
    groups = {group.reason: group.letters for group in queue.groups}
    assert sorted(groups) == ["not JSON", SCHEMA_FAILURE, "schema: no schema for task.created v7"]
    assert [
        (letter.key, letter.type, letter.version, letter.time) for letter in groups[SCHEMA_FAILURE]
    ] == [(message["id"], "task.completed", 1, message["time"]) for message in broken]
    [garbage] = groups["not JSON"]
    assert garbage.key.startswith("body-") and garbage.type is None
    [unknown] = groups["schema: no schema for task.created v7"]
    assert (unknown.key, unknown.type, unknown.version) == (odd["id"], "task.created", 7)
    assert all(letter.original_queue == QUEUE and letter.dead_at for letter in queue.letters)
    assert broker.message_count(DEAD) == 4, "looking takes nothing away"


def test_one_letter_is_shown_with_its_headers_and_its_body(dead_letters, broker):
    broken = failing_schema(broker)
    not_json(broker)
    wait_dead(broker, 2)

    shown = dead_letters.show(QUEUE, broken["id"])
    assert shown.body == json.dumps(broken, indent=2, ensure_ascii=False)
    assert (
        shown.headers["ates-reason"].startswith(SCHEMA_FAILURE)
        and shown.headers["ates-queue"] == QUEUE
    )
    assert (
        shown.headers["ates-original-exchange"],
        shown.headers["ates-original-routing-key"],
    ) == ("tracker.events", "task.completed.v1")
    [garbage] = [letter for letter in dead_letters.list(QUEUE)[0].letters if letter.type is None]
    assert dead_letters.show(DEAD, garbage.key).body == "{not json"
    with pytest.raises(NotFound, match="no dead letter nope in probe.tracker.dead"):
        dead_letters.show(QUEUE, "nope")
    with pytest.raises(UnknownQueue, match="there is no queue nobody.tracker.dead"):
        dead_letters.show("nobody.tracker", broken["id"])
    assert broker.message_count(DEAD) == 2


def test_a_replayed_letter_whose_task_has_since_arrived_is_applied_and_leaves_dead(
    dead_letters, broker, probe
):
    early = not_yet(broker)
    stays = failing_schema(broker)
    wait_dead(broker, 2)
    [group] = [group for group in dead_letters.list()[0].groups if group.reason == NOT_YET]
    arrives(broker, probe, early)

    outcome = dead_letters.replay(QUEUE, early["id"])
    assert [letter.key for letter in outcome.done] == [early["id"]] and not outcome.failed
    eventually(
        lambda: early["id"] in probe.applications_per_event(),
        message="the replayed completion to apply",
    )
    assert [letter.key for letter in dead_letters.list(QUEUE)[0].letters] == [stays["id"]]
    assert group.letters[0].attempts == 1


def test_a_replayed_letter_that_fails_again_comes_back_dead_with_a_fresh_reason(
    dead_letters, broker
):
    broken = failing_schema(broker)
    garbage = not_json(broker, b"\xff not even text")
    wait_dead(broker, 2)
    before = snapshot(dead_letters)

    dead_letters.replay(QUEUE, broken["id"])
    [garbage_key] = [key for key in before if key != broken["id"]]
    dead_letters.replay(QUEUE, garbage_key)

    def both_back():
        after = snapshot(dead_letters)
        return (
            after
            if all(shown.letter.replays == 1 for shown in after.values()) and len(after) == 2
            else None
        )

    after = eventually(both_back, message="both replays to come back dead")
    for key, shown in after.items():
        assert shown.body == before[key].body, "the message itself is untouched"
        assert shown.letter.reason == before[key].letter.reason
        assert shown.letter.dead_at > before[key].letter.dead_at
        assert shown.headers["ates-queue"] == QUEUE and shown.headers["ates-attempts"] == 0
    assert broker.message_count(DEAD) == 2, "never lost, never doubled"
    assert garbage.startswith(b"\xff")


def test_replaying_a_group_replays_all_of_it_and_leaves_the_rest_whole(dead_letters, broker, probe):
    early = [not_yet(broker) for _ in range(3)]
    failing_schema(broker)
    wait_dead(broker, 4)
    for completion in early:
        arrives(broker, probe, completion)
    untouched = {
        key: shown for key, shown in snapshot(dead_letters).items() if shown.letter.group != NOT_YET
    }

    outcome = dead_letters.replay(QUEUE, reason=NOT_YET)
    assert sorted(letter.key for letter in outcome.done) == sorted(
        message["id"] for message in early
    )
    eventually(
        lambda: all(message["id"] in probe.applications_per_event() for message in early),
        message="every replayed completion to apply",
    )
    assert snapshot(dead_letters) == untouched
    assert probe.applications_per_event().keys() >= {message["id"] for message in early}


def test_discarding_one_and_a_group_leaves_the_rest_whole(dead_letters, broker):
    failing_schema(broker)
    failing_schema(broker)
    not_json(broker)
    odd = unknown_version(broker)
    wait_dead(broker, 4)
    [garbage] = [letter for letter in dead_letters.list(QUEUE)[0].letters if letter.type is None]
    kept = dead_letters.show(QUEUE, odd["id"])

    assert [letter.key for letter in dead_letters.discard(QUEUE, garbage.key).done] == [garbage.key]
    assert len(dead_letters.discard(QUEUE, reason=SCHEMA_FAILURE).done) == 2
    assert snapshot(dead_letters) == {odd["id"]: kept}
    [(properties, body)] = broker.take_all(DEAD)
    assert (
        json.loads(body) == odd
        and properties.headers["ates-reason"] == "schema: no schema for task.created v7"
    )
    with pytest.raises(NotFound):
        dead_letters.discard(QUEUE)


def test_a_queue_longer_than_the_read_limit_is_acted_on_in_parts_and_kept_whole(
    dead_letters, broker
):
    for _ in range(3):
        failing_schema(broker)
    wait_dead(broker, 3)
    for _ in range(25):  # a quorum queue counts every return; reading must never wear a letter out
        dead_letters.list()
    assert broker.message_count(DEAD) == 3

    [queue] = DeadLetters(broker.url("operator"), read_limit=2).list(QUEUE)
    assert (queue.count, len(queue.letters), queue.truncated) == (3, 2, True)
    outcome = DeadLetters(broker.url("operator"), read_limit=2).discard(QUEUE)
    assert (len(outcome.done), outcome.unread) == (2, 1)
    assert broker.message_count(DEAD) == 1


def test_a_letter_whose_consumer_queue_is_gone_stays_dead(broker):
    with broker.channel() as channel:
        channel.queue_declare(
            "gone.tracker.dead", durable=True, arguments={"x-queue-type": "quorum"}
        )
    broker.publish_raw("", "gone.tracker.dead", json.dumps(task_created().to_message()).encode())
    outcome = DeadLetters(broker.url("operator")).replay("gone.tracker", reason="no reason given")
    assert (
        not outcome.done
        and outcome.failed[0][1] == "there is no queue gone.tracker to replay it to"
    )
    assert broker.message_count("gone.tracker.dead") == 1


def test_ates_dlq_lists_shows_replays_and_discards(dead_letters, broker, monkeypatch, capsys):
    for name, value in broker.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ATES_RABBITMQ_MANAGEMENT_URL", dead_letters.management_url)
    broken = failing_schema(broker)
    not_json(broker)
    wait_dead(broker, 2)

    assert ates(["dlq", "list"]) == 0
    listed = capsys.readouterr().out
    assert (
        f"{DEAD}: 2 dead letters" in listed
        and f"[1] {SCHEMA_FAILURE}" in listed
        and "[1] not JSON" in listed
    )
    assert re.search(rf"{broken['id']}\s+task.completed v1\s+{broken['time']}", listed)

    assert ates(["dlq", "show", QUEUE, broken["id"]]) == 0
    assert json.dumps(broken, indent=2) in capsys.readouterr().out

    assert ates(["dlq", "replay", QUEUE, broken["id"]]) == 0
    assert capsys.readouterr().out == f"Replayed 1 dead letter from {DEAD} to {QUEUE}.\n"
    eventually(
        lambda: (
            dead_letters.list(QUEUE)[0].count == 2
            and dead_letters.show(QUEUE, broken["id"]).letter.replays == 1
        ),
        message="the replay to come back dead",
    )

    assert ates(["dlq", "discard", DEAD, "--reason", "not JSON"]) == 0
    assert ates(["dlq", "discard", QUEUE, "--all"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"Discarded 1 dead letter from {DEAD}."] * 2
    assert broker.message_count(DEAD) == 0

    assert ates(["dlq", "show", QUEUE, broken["id"]]) == 1
    assert capsys.readouterr().err == f"ates dlq: no dead letter {broken['id']} in {DEAD}\n"
    assert ates(["dlq", "list", "--queue", "nobody.tracker"]) == 1
    assert capsys.readouterr().err == "ates dlq: there is no queue nobody.tracker.dead\n"


def test_the_admin_page_lists_replays_and_discards(dead_letters, broker):
    app = gateway_app(
        broker.amqp_url,
        OPERATOR_AMQP_URL=broker.url("operator"),
        RABBITMQ_MANAGEMENT_URL="http://rabbit.example:15672/",
    )
    browser = app.test_client()
    sign_in_as(browser, "admin", "admin")
    broken = failing_schema(broker)
    not_json(broker)
    wait_dead(broker, 2)

    page = browser.get("/admin/dead-letters").get_data(as_text=True)
    assert f"<code>{DEAD}</code>: 2 dead letters" in page and "not JSON" in page
    assert SCHEMA_FAILURE.replace("'", "&#39;") in page and broker.vhost in page
    assert broken["id"] in page and "task.completed v1" in page and broken["time"] in page
    assert 'href="http://rabbit.example:15672"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    assert (
        browser.post(
            "/admin/dead-letters/replay", data={"queue": DEAD, "key": broken["id"]}
        ).status_code
        == 400
    )
    replayed = browser.post(
        "/admin/dead-letters/replay",
        follow_redirects=True,
        data={"csrf_token": csrf, "queue": DEAD, "key": broken["id"]},
    ).get_data(as_text=True)
    assert f"Replayed 1 dead letter from {DEAD} to {QUEUE}" in replayed
    eventually(
        lambda: dead_letters.show(QUEUE, broken["id"]).letter.replays == 1,
        message="the replay to come back",
    )

    shown = browser.get(
        "/admin/dead-letters/message", query_string={"queue": DEAD, "key": broken["id"]}
    )
    assert shown.status_code == 200 and "ates-replays" in shown.get_data(as_text=True)

    discarded = browser.post(
        "/admin/dead-letters/discard",
        follow_redirects=True,
        data={"csrf_token": csrf, "queue": DEAD, "reason": "not JSON"},
    ).get_data(as_text=True)
    assert f"Discarded 1 dead letter from {DEAD}." in discarded
    assert [letter.key for letter in dead_letters.list(QUEUE)[0].letters] == [broken["id"]]
    again = browser.post(
        "/admin/dead-letters/discard",
        follow_redirects=True,
        data={"csrf_token": csrf, "queue": DEAD, "reason": "not JSON"},
    ).get_data(as_text=True)
    assert (
        "no dead letter with the reason" in again
        and "someone may have dealt with it already" in again
    )
