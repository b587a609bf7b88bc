"""Names and declarations of exchanges and queues (SPEC §5). Declaring is idempotent.

A consumer queue `<consumer>.<producer>` is a quorum queue. Its retry path is a set of wait
queues `<queue>.wait.<ms>ms` whose messages expire back into the queue; what cannot be applied
ends in `<queue>.dead`.
"""
from dataclasses import dataclass

DELIVERY_LIMIT = 20  # redeliveries after crashes before the broker itself dead-letters a message


def exchange_name(producer: str) -> str:
    return f"{producer}.events"


def queue_name(consumer: str, producer: str) -> str:
    return f"{consumer}.{producer}"


def dead_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def wait_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.wait.{delay_ms}ms"


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


def declare_subscription(channel, subscription: Subscription, retry_delays_ms) -> None:
    queue = subscription.queue
    dead = dead_queue_name(queue)
    declare_exchange(channel, subscription.producer)
    channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_declare(queue, durable=True, arguments={
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead,
    })
    for delay_ms in retry_delays_ms:
        channel.queue_declare(wait_queue_name(queue, delay_ms), durable=True, arguments={
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
        })
    for routing_key in subscription.routing_keys:
        channel.queue_bind(queue, exchange_name(subscription.producer), routing_key)
