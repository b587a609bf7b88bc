"""Forged events on the real broker, as an attacker with a broker password would try them (issue 13).

With another service's credentials the broker itself refuses (ACCESS_REFUSED, or PRECONDITION_FAILED for
a `user_id` that is not the connection's). What the broker lets through on the right exchange but without
the producer's `user_id`, or claiming another `source`, the consumers of tracker, accounting and analytics
(running here on their own users and databases) dead-letter as "untrusted producer", changing nothing.
"""

import json
import uuid
from collections import Counter
from pathlib import Path

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker
from sqlalchemy import func, select

from accounting.handlers import handlers as accounting_handlers
from accounting.models import inbox as accounting_inbox
from accounting.models import transactions
from analytics.handlers import handlers as analytics_handlers
from analytics.models import inbox as analytics_inbox
from ates import clock, migrations
from ates.bus import Consumer, Event, Inbox
from ates.bus.topology import dead_queue_name
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.conftest import eventually
from tests.handed_in import handed_in
from tracker.handlers import handlers as tracker_handlers
from tracker.models import accounts as tracker_accounts
from tracker.models import inbox as tracker_inbox

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker
POPUG = str(uuid.uuid4())


def account_updated(**changes) -> Event:
    data = {
        "account_id": POPUG,
        "username": "kesha",
        "email": "kesha@uberpopug.example",
        "full_name": "Kesha",
        "role": "developer",
        "active": True,
        "version": 1,
        **changes,
    }
    return Event("account.updated", 1, "/auth", data)


def task_completed() -> Event:
    return Event(
        "task.completed",
        1,
        "/tracker",
        {"task_id": str(uuid.uuid4()), "assignee_id": POPUG, "completed_at": clock.utcnow()},
    )


def account_deactivated() -> Event:
    return Event("account.deactivated", 1, "/auth", {"account_id": POPUG, "version": 9})


def transaction_applied() -> Event:
    return Event(
        "transaction.applied",
        1,
        "/accounting",
        {
            "transaction_id": str(uuid.uuid4()),
            "account_id": POPUG,
            "kind": "payout",
            "amount": "-500.00",
            "balance_after": "0.00",
            "task_id": None,
            "billing_date": "2026-12-01",
            "applied_at": clock.utcnow(),
        },
    )


def body(event: Event) -> bytes:
    return json.dumps(event.to_message()).encode()


class Service:
    """One consumer of a real service on its own broker user, with a migrated SQLite database."""

    def __init__(self, name, handlers, inbox, broker, tmp_path, start):
        url = f"sqlite:///{tmp_path / name}.db"
        migrations.upgrade(ROOT / name / "migrations", url)
        self.uow = UnitOfWork(make_engine(url))
        start(
            Consumer(
                handlers,
                Inbox(inbox, self.uow, handlers, handed_in(name)),
                broker.url(name),
                (100,),
            )
        )

    def count(self, table) -> int:
        with self.uow.read() as session:
            return session.scalar(select(func.count()).select_from(table))


@pytest.fixture
def system(broker, tmp_path, start):
    services = {
        name: Service(name, handlers, inbox, broker, tmp_path, start)
        for name, handlers, inbox in (
            ("tracker", tracker_handlers, tracker_inbox),
            ("accounting", accounting_handlers, accounting_inbox),
            ("analytics", analytics_handlers, analytics_inbox),
        )
    }

    def consuming():
        with broker.channel() as channel:
            queues = (
                "tracker.auth",
                "accounting.auth",
                "accounting.tracker",
                "analytics.accounting",
            )
            try:
                return all(
                    channel.queue_declare(q, passive=True).method.consumer_count for q in queues
                )
            except ChannelClosedByBroker:
                return False

    eventually(consuming, message="every consumer on its queues")
    broker.publish_events([account_updated(version=1)])  # the popug, as auth really published it
    eventually(
        lambda: services["tracker"].count(tracker_accounts) == 1,
        message="the tracker to know the popug",
    )
    return services


def tracker_account(system) -> dict:
    with system["tracker"].uow.read() as session:
        return dict(session.execute(select(tracker_accounts)).mappings().one())


# -- what the broker refuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service, exchange, event",
    [
        ("analytics", "tracker.events", task_completed()),  # money from nowhere
        (
            "accounting",
            "auth.events",
            account_updated(email="mallory@evil.example", role="admin", version=5),
        ),
        ("tracker", "auth.events", account_deactivated()),
        ("tracker", "accounting.events", transaction_applied()),
        ("operator", "auth.events", account_updated(version=5)),
        (
            "accounting",
            "",
            account_updated(version=5),
        ),  # the default exchange, straight into accounting.auth
        (
            "tracker",
            "accounting.retry",
            account_updated(version=5),
        ),  # another consumer's retry path
    ],
)
def test_the_broker_refuses_a_publish_on_an_exchange_that_is_not_the_users_own(
    broker, service, exchange, event
):
    with broker.channel(service) as channel:
        channel.confirm_delivery()
        with pytest.raises(ChannelClosedByBroker) as refused:
            routing_key = "accounting.auth" if exchange == "" else event.routing_key
            channel.basic_publish(
                exchange,
                routing_key,
                body(event),
                pika.BasicProperties(user_id=broker.user(service)),
            )
    assert refused.value.reply_code == 403 and "ACCESS_REFUSED" in refused.value.reply_text


def test_the_broker_refuses_a_user_id_that_is_not_the_connections_own(broker):
    with broker.channel("tracker") as channel:
        channel.confirm_delivery()
        with pytest.raises(ChannelClosedByBroker) as refused:
            channel.basic_publish(
                "tracker.events",
                "task.completed.v1",
                body(task_completed()),
                pika.BasicProperties(user_id=broker.user("auth")),
            )
    assert refused.value.reply_code == 406 and "user_id property set to" in refused.value.reply_text


@pytest.mark.parametrize(
    "service, queue",
    [
        ("tracker", "accounting.tracker"),
        ("analytics", "accounting.auth"),
        ("operator", "accounting.tracker"),
    ],
)
def test_a_user_reads_no_other_services_queue(system, broker, service, queue):
    with broker.channel(service) as channel, pytest.raises(ChannelClosedByBroker) as refused:
        channel.basic_get(queue, auto_ack=True)
    assert refused.value.reply_code == 403


def test_a_service_cannot_listen_to_a_producer_it_does_not_consume(broker):
    with broker.channel("tracker") as channel:
        channel.queue_declare("tracker.eavesdrop", durable=True)
        with pytest.raises(ChannelClosedByBroker) as refused:
            channel.queue_bind("tracker.eavesdrop", "accounting.events", "#")
    assert refused.value.reply_code == 403


def test_guest_is_used_by_no_consumer(system, broker):
    expected = {broker.user(name) for name in system}
    # the management API lists a connection once its statistics are collected (every few seconds)
    eventually(
        lambda: {c["user"] for c in broker.admin.connections(broker.vhost)} == expected,
        timeout=30,
        interval=0.5,
        message=f"connections of {sorted(expected)} only",
    )


# -- what the broker lets through, and the consumers refuse ----------------------------------------------


def test_forgeries_that_pass_the_broker_are_dead_lettered_as_untrusted_and_change_nothing(
    system, broker
):
    before = tracker_account(system)
    on_tracker, on_auth = (
        ("accounting.tracker", "analytics.tracker"),
        ("tracker.auth", "accounting.auth", "analytics.auth"),
    )
    # (as whom: None is the administrator, who sets no user_id; exchange, routing key, event, queues)
    forged = [
        (None, "tracker.events", "task.completed.v1", task_completed(), on_tracker),
        (
            None,
            "auth.events",
            "account.updated.v1",
            account_updated(email="mallory@evil.example", version=5),
            on_auth,
        ),
        (None, "auth.events", "account.deactivated.v1", account_deactivated(), on_auth),
        (
            None,
            "accounting.events",
            "transaction.applied.v1",
            transaction_applied(),
            ("analytics.accounting",),
        ),
        (
            None,
            "",
            "accounting.auth",
            account_updated(role="admin", version=6),
            ("accounting.auth",),
        ),
        # the tracker's own user on its own exchange, claiming to be auth: the source must match the user
        (
            "tracker",
            "tracker.events",
            "task.completed.v1",
            account_updated(role="admin", version=7),
            on_tracker,
        ),
    ]
    for service, exchange, routing_key, event, _queues in forged:
        with broker.channel(service) as channel:
            channel.confirm_delivery()
            channel.basic_publish(
                exchange,
                routing_key,
                body(event),
                pika.BasicProperties(
                    delivery_mode=2, user_id=broker.user(service) if service else None
                ),
                mandatory=True,
            )
    expected = Counter(queue for *_, queues in forged for queue in queues)
    for queue, count in expected.items():
        eventually(
            lambda: broker.message_count(dead_queue_name(queue)) == count,
            message=f"{count} in {queue}.dead",
        )
        for properties, _body in broker.take_all(dead_queue_name(queue)):
            assert properties.headers["ates-reason"].startswith("untrusted producer: "), (
                properties.headers
            )
    assert tracker_account(system) == before, "the tracker's replica is as auth published it"
    assert system["accounting"].count(transactions) == 0, "nobody was paid"
    with system["analytics"].uow.read() as session:
        applied = session.execute(select(func.count()).select_from(analytics_inbox)).scalar()
    assert applied == 1, "analytics applied auth's real event and nothing forged"
