"""In-process delivery, for tests: a rule that crosses services, at unit-test speed, no broker.

`deliver(producer, outbox, producer_uow, *inboxes)` takes what the producer's outbox holds
unpublished, in order, and hands each row to every consumer that subscribes to its routing key,
through the consumer's own code: the message properties the relay would publish with (its
`user_id` the producer's broker user, as the broker would vouch), `Consumer._decode` (JSON, the
schema, the trust check, the handler lookup) and the consumer's `Inbox` (its handlers and its
dedup table, in one transaction). Then the rows count as published.

    task = tracker_service.create_task(...)                  # in the tracker's database
    outcomes = deliver("tracker", tracker_outbox, tracker_uow, accounting_inbox)
    assert [o.action for o in outcomes] == ["ack", ...]      # priced and charged in accounting's

What it leaves out is the broker: routing by the exchanges and queues, the retry path's wait
queues, redelivery after a crash, the relay's confirms and lease. Those are proven by the tests on
the real RabbitMQ (tests/integration/test_bus.py, tests/e2e/); this helper is for the rules.
"""

from dataclasses import dataclass

from sqlalchemy import Table, select, update

from ates import clock
from ates.bus import topology
from ates.bus.consumer import Consumer, Delivery
from ates.bus.inbox import Inbox, Outcome
from ates.bus.publishing import message_properties
from ates.bus.users import user_name
from ates.config import DEFAULT_AMQP_USER_PREFIX
from ates.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Delivered:
    consumer: str
    event_type: str
    event_id: str
    outcome: Outcome

    @property
    def action(self) -> str:
        return self.outcome.action


def deliver(
    producer: str,
    outbox: Table,
    producer_uow: UnitOfWork,
    *inboxes: Inbox,
    again: bool = False,
    user_prefix: str = DEFAULT_AMQP_USER_PREFIX,
    as_user: str | None = None,
) -> list[Delivered]:
    """Every unpublished outbox row (with `again`, every row: a redelivery) to every subscriber.

    `as_user`: the broker user the messages come from, the producer's own unless a test forges."""
    publisher = as_user or user_name(producer, user_prefix)
    query = select(
        outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.routing_key, outbox.c.body
    ).order_by(outbox.c.id)
    if not again:
        query = query.where(outbox.c.published_at.is_(None))
    with producer_uow.read() as session:
        rows = session.execute(query).all()
    consumers = [_consumer(inbox, user_prefix) for inbox in inboxes]
    delivered = []
    for tag, row in enumerate(rows, 1):
        for consumer in consumers:
            if not _subscribes(consumer, producer, row.routing_key):
                continue
            delivery = Delivery(
                tag,
                topology.queue_name(consumer.handlers.consumer, producer),
                topology.exchange_name(producer),
                row.routing_key,
                message_properties(row, producer, publisher),
                row.body.encode(),
            )
            event, problem = consumer._decode(delivery)
            if event is None:
                outcome = Outcome("dead", problem or "not an event")
            else:
                [outcome] = consumer.inbox.apply([event])
            delivered.append(
                Delivered(consumer.handlers.consumer, row.event_type, row.event_id, outcome)
            )
    if rows:
        with producer_uow.begin() as session:
            session.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]), outbox.c.published_at.is_(None))
                .values(published_at=clock.utcnow())
            )
    return delivered


def _consumer(inbox: Inbox, user_prefix: str) -> Consumer:
    """The consumer's decoding, as its own broker user; no connection is ever opened."""
    user = user_name(inbox.handlers.consumer, user_prefix)
    return Consumer(inbox.handlers, inbox, f"amqp://{user}:in-process@localhost/%2F", (1_000,))


def _subscribes(consumer: Consumer, producer: str, routing_key: str) -> bool:
    return any(
        subscription.producer == producer and routing_key in subscription.routing_keys
        for subscription in consumer.subscriptions
    )
