"""Names and declarations of exchanges and queues (SPEC §5). Declaring is idempotent.

A consumer queue `<consumer>.<producer>` is a quorum queue, replicated on `quorum_size` nodes. Its
retry path is a set of wait queues `<queue>.delay.<ms>ms`, quorum queues too, whose messages expire
back into the queue (dead-lettered at least once); what cannot be applied ends in `<queue>.dead`.
Both paths go through the consumer's own direct exchanges, `<consumer>.retry` and `<consumer>.dead`,
never the default exchange: each service's broker user may write only exchanges whose names start
with its own (ates/bus/users.py).
"""

import logging
from dataclasses import dataclass

from pika.exceptions import ChannelClosedByBroker

from ates.config import DEFAULT_QUORUM_SIZE

log = logging.getLogger(__name__)
GROUP_SIZE = "x-quorum-initial-group-size"
DELIVERY_LIMIT = 20  # redeliveries after crashes before the broker itself dead-letters a message


def exchange_name(producer: str) -> str:
    return f"{producer}.events"


def queue_name(consumer: str, producer: str) -> str:
    return f"{consumer}.{producer}"


def dead_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def wait_queue_name(queue: str, delay_ms: int) -> str:
    """A quorum queue. (`<queue>.wait.<ms>ms` were classic ones, which cannot turn quorum in place.)"""
    return f"{queue}.delay.{delay_ms}ms"


def retry_exchange_name(consumer: str) -> str:
    """Where retry copies, expired waits and replays enter: routing key = the queue they go to."""
    return f"{consumer}.retry"


def dead_exchange_name(consumer: str) -> str:
    return f"{consumer}.dead"


def relay_lease_name(producer: str) -> str:
    """The exclusive queue whose owner is the one relay publishing for this producer."""
    return f"{producer}.relay-lease"


@dataclass(frozen=True)
class Subscription:
    """What one consumer queue receives: the routing keys it binds on its producer's exchange."""

    consumer: str
    producer: str
    routing_keys: tuple[str, ...]

    @property
    def queue(self) -> str:
        return queue_name(self.consumer, self.producer)


def declare_exchange(channel, producer: str) -> None:
    channel.exchange_declare(exchange_name(producer), exchange_type="topic", durable=True)


def declare_subscription(
    channel, subscription: Subscription, retry_delays_ms, quorum_size: int = DEFAULT_QUORUM_SIZE
):
    """The consumer's queue with its retry path and `.dead` queue, bound to the producer's exchange.

    The producer's exchange is only looked up (passive): a consumer may read it, not declare it;
    provisioning (ates/bus/provision.py) or the producer made it. Missing, the channel closes with
    404 and the consumer tries again later. Returns the channel to go on with: another one when a
    queue made with another replica count closed the first (`_declare_quorum`)."""
    queue, consumer = subscription.queue, subscription.consumer
    dead, retry, dead_exchange = (
        dead_queue_name(queue),
        retry_exchange_name(consumer),
        dead_exchange_name(consumer),
    )
    channel.exchange_declare(exchange_name(subscription.producer), passive=True)
    channel.exchange_declare(retry, exchange_type="direct", durable=True)
    channel.exchange_declare(dead_exchange, exchange_type="direct", durable=True)
    channel = _declare_quorum(channel, dead, {}, quorum_size)
    channel.queue_bind(dead, dead_exchange, dead)
    for delay_ms in retry_delays_ms:
        wait = wait_queue_name(queue, delay_ms)
        waiting = {
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": retry,
            "x-dead-letter-routing-key": queue,
            # a copy leaves the wait queue only once the consumer queue has it, on a majority
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",  # what at-least-once dead-lettering requires
        }
        channel = _declare_quorum(channel, wait, waiting, quorum_size)
        channel.queue_bind(wait, retry, wait)
    consuming = {
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": dead_exchange,
        "x-dead-letter-routing-key": dead,
    }
    channel = _declare_quorum(channel, queue, consuming, quorum_size)
    for routing_key in subscription.routing_keys:
        channel.queue_bind(queue, exchange_name(subscription.producer), routing_key)
    channel.queue_bind(queue, retry, queue)
    return channel


def _declare_quorum(channel, queue: str, arguments: dict, quorum_size: int):
    """A durable quorum queue on `quorum_size` nodes; the channel to go on with.

    The broker holds a queue's arguments equal on every declaration, the replica count too. A queue
    made before with another count (or none: aTES before clusters) keeps its members, which
    `rabbitmq-queues grow` / `shrink` change; so on that one refusal the queue is only looked up,
    on a fresh channel (the refusal closed the first)."""
    try:
        channel.queue_declare(
            queue,
            durable=True,
            arguments={"x-queue-type": "quorum", **arguments, GROUP_SIZE: quorum_size},
        )
        return channel
    except ChannelClosedByBroker as refused:
        if refused.reply_code != 406 or GROUP_SIZE not in refused.reply_text:
            raise
        log.info("%s keeps the replica count it was made with (%s)", queue, refused.reply_text)
    channel = channel.connection.channel()
    channel.queue_declare(queue, passive=True)
    return channel
