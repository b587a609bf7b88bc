"""The bus against the real RabbitMQ: outbox, relay, topology, consumer, inbox, retry and .dead."""

import json
import threading
import time

import pika
import pytest

from ates.bus.topology import dead_queue_name, wait_queue_name
from tests import probe as probe_module
from tests.conftest import eventually
from tests.probe import QUEUE, RETRY_DELAYS_MS, task_completed, task_created, task_updated

pytestmark = pytest.mark.broker


def wait_for_queue(broker, queue=QUEUE):
    def exists():
        try:
            broker.message_count(queue)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False

    eventually(exists, message=f"queue {queue} to be declared")


def settle(probe, expected: int, timeout: float = 60.0):
    """Wait until `expected` applications are in, then a little longer to catch a double."""
    eventually(
        lambda: probe.applied_count() >= expected,
        timeout=timeout,
        message=f"{expected} applications",
    )
    time.sleep(0.5)


def test_committed_event_reaches_the_consumer_and_is_applied_once(probe, start, broker):
    start(probe.consumer())
    wait_for_queue(broker)
    event = task_created()
    probe.publish(event)
    start(probe.relay())
    settle(probe, 1)
    assert probe.applications_per_event() == {event.id: 1}
    eventually(
        lambda: probe.unpublished_count() == 0, message="the outbox row to be marked published"
    )


def test_rolled_back_transaction_publishes_nothing(probe, start, broker):
    rolled_back = task_created()
    with pytest.raises(RuntimeError), probe.uow.begin() as session:
        probe.outbox.add(session, rolled_back)
        raise RuntimeError("the business change failed")
    marker = task_created()
    probe.publish(marker)
    start(probe.consumer())
    wait_for_queue(broker)
    start(probe.relay())
    settle(probe, 1)
    assert probe.applications_per_event() == {marker.id: 1}


def test_same_event_delivered_twice_changes_state_once(probe, start, broker):
    start(probe.consumer())
    wait_for_queue(broker)
    event, marker = task_created(), task_created()
    for message in (event, event, marker):
        broker.publish_raw(
            "tracker.events",
            "task.created.v2",
            json.dumps(message.to_message()).encode(),
            "tracker",
        )
    settle(probe, 2)
    assert probe.applications_per_event() == {event.id: 1, marker.id: 1}


def test_relay_killed_in_the_middle_of_a_batch_loses_nothing(probe, start, spawn, broker, tmp_path):
    start(probe.consumer())
    wait_for_queue(broker)
    events = [task_created() for _ in range(1000)]
    probe.publish(*events)
    relay = spawn("slow-relay", str(probe.engine.url))
    eventually(
        lambda: probe.unpublished_count() <= 800,
        interval=0.005,
        message="the relay to be under way",
    )
    relay.kill()
    assert 0 < probe.unpublished_count() < 1000, "the kill should land in the middle of the batch"
    spawn("relay", str(probe.engine.url))
    settle(probe, 1000)
    assert probe.applications_per_event() == {event.id: 1 for event in events}
    eventually(lambda: probe.unpublished_count() == 0, message="every row marked published")


def test_two_relays_on_one_outbox_publish_each_event_once_and_a_standby_takes_over(
    probe, start, broker
):
    with broker.channel() as channel:
        channel.exchange_declare("tracker.events", exchange_type="topic", durable=True)
        channel.queue_declare("every-copy", durable=True)
        channel.queue_bind("every-copy", "tracker.events", "#")
    relays = [start(probe.relay(lease_retry=0.2)), start(probe.relay(lease_retry=0.2))]
    events = [task_created() for _ in range(2000)]
    probe.publish(*events)
    eventually(lambda: probe.unpublished_count() == 0, message="every row published")
    time.sleep(0.5)
    assert broker.message_count("every-copy") == 2000, "only the relay holding the lease publishes"
    assert sorted(relay.holds_lease for relay in relays) == [False, True]
    leader, standby = sorted(relays, key=lambda relay: not relay.holds_lease)
    leader.stop()
    later = [task_created() for _ in range(100)]
    probe.publish(*later)
    eventually(
        lambda: standby.holds_lease and probe.unpublished_count() == 0,
        message="the standby to take over",
    )
    time.sleep(0.5)
    assert broker.message_count("every-copy") == 2100


def test_broker_dropping_connections_while_events_flow_loses_and_doubles_nothing(
    probe, spawn, broker
):
    worker = spawn("worker", str(probe.engine.url))
    wait_for_queue(broker)
    events = [task_created() for _ in range(1000)]

    def feed():
        for start_at in range(0, len(events), 20):
            probe.publish(*events[start_at : start_at + 20])
            time.sleep(0.04)

    feeder = threading.Thread(target=feed)
    feeder.start()
    for share in (0.3, 0.6):
        eventually(
            lambda: probe.applied_count() >= share * len(events), message=f"{share:.0%} applied"
        )
        broker.close_all_connections()
    feeder.join()
    settle(probe, 1000)
    assert probe.applications_per_event() == {event.id: 1 for event in events}
    assert worker.terminate() == 0
    log = worker.log_path.read_text()
    assert log.count("reconnecting") >= 2, "both drops should have been noticed and survived"


def test_message_failing_its_schema_is_dead_lettered_and_the_next_is_applied(probe, start, broker):
    start(probe.consumer())
    wait_for_queue(broker)
    broken = task_completed("7d0b1f4c-1b8e-4d7b-9a43-0c5b7b0d7c11").to_message()
    del broken["data"]["completed_at"]
    broker.publish_raw("tracker.events", "task.completed.v1", json.dumps(broken).encode())
    broker.publish_raw("tracker.events", "task.completed.v1", b"{not json")
    good = task_created()
    broker.publish_raw(
        "tracker.events", "task.created.v2", json.dumps(good.to_message()).encode(), "tracker"
    )
    settle(probe, 1)
    assert probe.applications_per_event() == {good.id: 1}
    dead = eventually(
        lambda: (lambda m: m if len(m) == 2 else None)(broker.take_all(dead_queue_name(QUEUE))),
        message="two dead letters",
    )
    reasons = [properties.headers["ates-reason"] for properties, _ in dead]
    assert reasons[0].startswith("schema: data: 'completed_at' is a required property"), reasons[0]
    assert reasons[1].startswith("not JSON"), reasons[1]
    assert all(p.headers["ates-original-routing-key"] == "task.completed.v1" for p, _ in dead)
    assert all(p.headers["ates-original-exchange"] == "tracker.events" for p, _ in dead)
    assert json.loads(dead[0][1]) == broken, "the dead letter keeps the message as it came"


def test_unknown_version_is_dead_lettered_at_once(probe, start, broker):
    start(probe.consumer())
    wait_for_queue(broker)
    message = task_created().to_message()
    message["dataversion"] = 7
    broker.publish_raw("", QUEUE, json.dumps(message).encode())
    dead = eventually(lambda: broker.take_all(dead_queue_name(QUEUE)), message="a dead letter")
    assert dead[0][0].headers["ates-reason"] == "schema: no schema for task.created v7"
    assert "ates-attempts" not in dead[0][0].headers


def test_not_yet_event_comes_back_and_is_applied_once_its_dependency_arrives(probe, start, broker):
    start(probe.consumer())
    wait_for_queue(broker)
    created = task_created()
    completed = task_completed(created.data["task_id"])
    probe.publish(completed)
    start(probe.relay())
    eventually(
        lambda: broker.message_count(wait_queue_name(QUEUE, RETRY_DELAYS_MS[1])) == 1,
        message="the early event to wait its second round",
    )
    assert probe.applied_count() == 0
    probe.publish(created)
    settle(probe, 2)
    assert probe.applications_per_event() == {created.id: 1, completed.id: 1}
    assert broker.message_count(dead_queue_name(QUEUE)) == 0


def test_not_yet_event_whose_dependency_never_arrives_ends_dead_after_bounded_tries(
    probe, start, broker
):
    start(probe.consumer())
    wait_for_queue(broker)
    orphan = task_completed("0a4cbb3e-8d55-4d8e-b7a9-4a0f3f1a2b3c")
    probe.publish(orphan)
    start(probe.relay())
    dead = eventually(
        lambda: broker.take_all(dead_queue_name(QUEUE)), timeout=20, message="a dead letter"
    )
    headers = dead[0][0].headers
    tries = len(RETRY_DELAYS_MS) + 1
    assert headers["ates-reason"] == (
        f"gave up after {tries} tries: not yet: task 0a4cbb3e-8d55-4d8e-b7a9-4a0f3f1a2b3c is not known yet"
    )
    assert headers["ates-attempts"] == len(RETRY_DELAYS_MS)
    assert probe.applied_count() == 0


def test_slow_handler_keeps_its_connection(probe, start, broker, monkeypatch):
    monkeypatch.setattr(probe_module, "slow_handler_seconds", 5.0)
    probe.amqp_urls = {name: url + "?heartbeat=1" for name, url in probe.amqp_urls.items()}
    consumer = start(probe.consumer())
    wait_for_queue(broker)
    created = task_created()
    probe.publish(created, task_updated(created.data["task_id"]))
    start(probe.relay())
    settle(probe, 2, timeout=20)
    assert consumer.connections_opened == 1, "missed heartbeats would have cost the connection"
    assert probe.applied_count() == 2


def test_a_looks_messages_go_to_the_socket_as_one_piece_and_all_arrive(
    probe, start, broker, monkeypatch
):
    """pika sends each piece handed to its transport with a system call of its own; the relay
    hands it a look's messages together (one piece for 50 here, not 50), and every one arrives."""
    from ates.bus.publishing import PublishingConnection

    pieces = []
    real_emit = PublishingConnection._adapter_emit_data

    def counted(connection, data):
        # each message names its type three times: routing key, `type` property, the body
        pieces.append(data.count(b"task.created") // 3)
        real_emit(connection, data)

    monkeypatch.setattr(PublishingConnection, "_adapter_emit_data", counted)
    start(probe.consumer())
    wait_for_queue(broker)
    events = [task_created() for _ in range(50)]
    for event in events:
        probe.publish(event)
    start(probe.relay())
    settle(probe, 50)
    assert probe.applications_per_event() == {event.id: 1 for event in events}
    assert max(pieces) == 50, pieces  # all 50 in one write
