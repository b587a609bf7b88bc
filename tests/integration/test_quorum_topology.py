"""The queues a consumer declares on the real broker: quorum queues with a replica count, the wait
queues among them, and what becomes of queues an older aTES made (docs/bus.md, "Several broker nodes")."""

import pika
import pytest

from ates.bus import topology
from ates.bus.provision import provision
from ates.bus.topology import Subscription
from tests.conftest import TEST_CONSUMERS, eventually

pytestmark = pytest.mark.broker
SUBSCRIPTION = Subscription("probe", "tracker", ("task.created.v1",))
QUEUE = SUBSCRIPTION.queue
DELAYS = (200, 1_000)


def queues(broker) -> dict[str, dict]:
    return {queue["name"]: queue for queue in broker.admin.queues(broker.vhost)}


def test_every_queue_of_a_subscription_is_a_quorum_queue_with_its_replica_count(broker):
    with broker.channel("probe") as channel:
        topology.declare_subscription(channel, SUBSCRIPTION, DELAYS, quorum_size=3)
    found = queues(broker)
    names = [QUEUE, f"{QUEUE}.dead", *(f"{QUEUE}.delay.{delay}ms" for delay in DELAYS)]
    assert {name: found[name]["type"] for name in names} == dict.fromkeys(names, "quorum")
    assert {name: found[name]["arguments"][topology.GROUP_SIZE] for name in names} == dict.fromkeys(
        names, 3
    )
    wait = found[f"{QUEUE}.delay.200ms"]["arguments"]
    assert (wait["x-dead-letter-strategy"], wait["x-overflow"], wait["x-message-ttl"]) == (
        "at-least-once",
        "reject-publish",
        200,
    )


def test_a_wait_queue_hands_its_copy_back_to_the_consumer_queue(broker):
    with broker.channel("probe") as channel:
        topology.declare_subscription(channel, SUBSCRIPTION, DELAYS)
        channel.confirm_delivery()
        channel.basic_publish(
            topology.retry_exchange_name("probe"),
            topology.wait_queue_name(QUEUE, 200),
            b"{}",
            pika.BasicProperties(delivery_mode=2, user_id=broker.user("probe")),
            mandatory=True,
        )
    eventually(lambda: broker.message_count(QUEUE) == 1, message="the copy back in its queue")
    assert broker.message_count(topology.wait_queue_name(QUEUE, 200)) == 0


def test_a_queue_made_before_without_a_replica_count_is_kept_as_it_is(broker):
    with broker.channel() as channel:  # as aTES before clusters declared it
        channel.queue_declare(
            QUEUE,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": topology.DELIVERY_LIMIT,
                "x-dead-letter-exchange": "probe.dead",
                "x-dead-letter-routing-key": f"{QUEUE}.dead",
            },
        )
    with broker.channel("probe") as channel:
        channel = topology.declare_subscription(channel, SUBSCRIPTION, DELAYS, quorum_size=3)
        assert channel.is_open
        channel.basic_consume(QUEUE, lambda *_: None)  # the channel goes on with the queue
    found = queues(broker)
    assert topology.GROUP_SIZE not in found[QUEUE]["arguments"]
    assert found[f"{QUEUE}.dead"]["arguments"][topology.GROUP_SIZE] == 3, "the rest is made anew"


def test_another_refusal_of_a_declaration_is_not_swallowed(broker):
    with broker.channel() as channel:  # a classic queue where a quorum queue belongs
        channel.queue_declare(QUEUE, durable=True)
    with (
        broker.channel("probe") as channel,
        pytest.raises(pika.exceptions.ChannelClosedByBroker, match="inequivalent arg"),
    ):
        topology.declare_subscription(channel, SUBSCRIPTION, DELAYS)


def test_provisioning_removes_empty_classic_wait_queues_of_before_and_keeps_full_ones(broker):
    old = {delay: f"{QUEUE}.wait.{delay}ms" for delay in (1_000, 600_000)}
    with broker.channel() as channel:
        for delay, name in old.items():
            channel.queue_declare(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "probe.retry",
                    "x-dead-letter-routing-key": QUEUE,
                },
            )
        channel.confirm_delivery()
        channel.basic_publish("", old[600_000], b"{}", pika.BasicProperties(delivery_mode=2))
    provision(broker.admin, broker.vhost, broker.passwords, broker.prefix, TEST_CONSUMERS)
    found = queues(broker)
    assert old[1_000] not in found, "an empty old wait queue goes"
    assert old[600_000] in found and broker.message_count(old[600_000]) == 1, (
        "one still holding a copy stays until it empties"
    )
