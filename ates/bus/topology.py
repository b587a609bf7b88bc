"""Names and declarations of exchanges and queues (SPEC §5). Declaring is idempotent.

A consumer queue `<consumer>.<producer>` is a quorum queue. Its retry path is a set of wait
queues `<queue>.wait.<ms>ms` whose messages expire back into the queue; what cannot be applied
ends in `<queue>.dead`. Both paths go through the consumer's own direct exchanges,
`<consumer>.retry` and `<consumer>.dead`, never the default exchange: each service's broker user
may write only exchanges whose names start with its own (ates/bus/users.py).
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


def declare_subscription(channel, subscription: Subscription, retry_delays_ms) -> None:
    """The consumer's queue with its retry path and `.dead` queue, bound to the producer's exchange.

    The producer's exchange is only looked up (passive): a consumer may read it, not declare it;
    provisioning (ates/bus/provision.py) or the producer made it. Missing, the channel closes with
    404 and the consumer tries again later."""
    queue, consumer = subscription.queue, subscription.consumer
    dead, retry, dead_exchange = (
        dead_queue_name(queue),
        retry_exchange_name(consumer),
        dead_exchange_name(consumer),
    )
    channel.exchange_declare(exchange_name(subscription.producer), passive=True)
    channel.exchange_declare(retry, exchange_type="direct", durable=True)
    channel.exchange_declare(dead_exchange, exchange_type="direct", durable=True)
    channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(dead, dead_exchange, dead)
    for delay_ms in retry_delays_ms:
        wait = wait_queue_name(queue, delay_ms)
        channel.queue_declare(
            wait,
            durable=True,
            arguments={
                "x-message-ttl": delay_ms,
                "x-dead-letter-exchange": retry,
                "x-dead-letter-routing-key": queue,
            },
        )
        channel.queue_bind(wait, retry, wait)
    channel.queue_declare(
        queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": dead_exchange,
            "x-dead-letter-routing-key": dead,
        },
    )
    for routing_key in subscription.routing_keys:
        channel.queue_bind(queue, exchange_name(subscription.producer), routing_key)
    channel.queue_bind(queue, retry, queue)
