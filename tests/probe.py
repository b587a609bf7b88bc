"""A tiny consumer and producer used to test the bus itself, runnable as a process.

It records every application of an event in `applications` (no unique key), so a test can
tell "applied once" from "applied twice". `task.completed` needs its task's `task.created`
first, otherwise it is "not yet".

    python -m tests.probe relay|consumer|worker DATABASE_URL '{"tracker": AMQP_URL, "probe": AMQP_URL}'

Like a service, it talks to the broker as two users: the tracker's (its relay publishes the tracker's
events) and its own (its consumer reads `probe.tracker`).
"""

import json
import sys
import time
import uuid

from sqlalchemy import Column, Integer, String, Table, func, insert, select

from ates import clock
from ates.bus import (
    Consumer,
    Event,
    Handlers,
    Inbox,
    NotYet,
    Outbox,
    OutboxRelay,
    inbox_table,
    outbox_table,
)
from ates.bus.runner import run_until_signalled
from ates.db import make_engine, new_metadata
from ates.unit_of_work import UnitOfWork

PRODUCER = "tracker"
CONSUMER = "probe"
QUEUE = f"{CONSUMER}.{PRODUCER}"
RETRY_DELAYS_MS = (200, 400, 800)

metadata = new_metadata()
outbox_rows = outbox_table(metadata)
inbox_rows = inbox_table(metadata)
applications = Table(
    "applications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("task_id", String(36), nullable=False, index=True),
)
RECORD = insert(applications)  # built once: a handler runs for every event

handlers = Handlers(CONSUMER)


@handlers.on("task.created", 2)
def on_task_created(session, event):
    _record(session, event)


@handlers.on("task.completed", 1)
def on_task_completed(session, event):
    known = session.execute(
        select(applications.c.id).where(
            applications.c.task_id == event.data["task_id"],
            applications.c.event_type == "task.created",
        )
    ).first()
    if not known:
        raise NotYet(f"task {event.data['task_id']} is not known yet")
    _record(session, event)


slow_handler_seconds = 0.0  # a test sets it to keep the consumer busy


@handlers.on("task.updated", 2)
def on_task_updated(session, event):
    time.sleep(slow_handler_seconds)
    _record(session, event)


def _record(session, event):
    session.execute(
        RECORD, {"event_id": event.id, "event_type": event.type, "task_id": event.data["task_id"]}
    )


def task_created(task_id: str | None = None) -> Event:
    now = clock.utcnow()
    return Event(
        "task.created",
        2,
        "/tracker",
        {
            "task_id": task_id or str(uuid.uuid4()),
            "jira_id": None,
            "title": "Feed the parrots",
            "description": "",
            "status": "open",
            "assignee_id": str(uuid.uuid4()),
            "created_at": now,
            "completed_at": None,
            "version": 1,
        },
    )


def task_updated(task_id: str) -> Event:
    created = task_created(task_id)
    return Event("task.updated", 2, "/tracker", {**created.data, "version": 2})


def task_completed(task_id: str) -> Event:
    return Event(
        "task.completed",
        1,
        "/tracker",
        {
            "task_id": task_id,
            "assignee_id": str(uuid.uuid4()),
            "completed_at": clock.utcnow(),
        },
    )


class Probe:
    """One probe database with its outbox, and the relay and consumer that serve it."""

    def __init__(self, database_url: str, amqp_urls: dict[str, str]):
        self.engine = make_engine(database_url)
        metadata.create_all(self.engine)
        self.uow = UnitOfWork(self.engine)
        self.amqp_urls = dict(amqp_urls)  # the producer's and the consumer's own broker users
        self.outbox = Outbox(outbox_rows)

    def publish(self, *events: Event) -> None:
        with self.uow.begin() as session:
            self.outbox.add(session, *events)

    def relay(self, **options) -> OutboxRelay:
        return OutboxRelay(PRODUCER, outbox_rows, self.uow, self.amqp_urls[PRODUCER], **options)

    def consumer(self, **options) -> Consumer:
        return Consumer(
            handlers,
            Inbox(inbox_rows, self.uow, handlers),
            self.amqp_urls[CONSUMER],
            RETRY_DELAYS_MS,
            **options,
        )

    def applied_count(self) -> int:
        with self.uow.read() as session:
            return session.scalar(select(func.count()).select_from(applications))

    def applications_per_event(self) -> dict[str, int]:
        with self.uow.read() as session:
            rows = session.execute(
                select(applications.c.event_id, func.count()).group_by(applications.c.event_id)
            )
            return dict(rows.all())

    def unpublished_count(self) -> int:
        with self.uow.read() as session:
            return session.scalar(
                select(func.count())
                .select_from(outbox_rows)
                .where(outbox_rows.c.published_at.is_(None))
            )


class SlowRelay(OutboxRelay):
    """A relay that dawdles between small batches, so that a test can kill it half-way."""

    def _publish_pending(self) -> int:
        time.sleep(0.02)
        return super()._publish_pending()


def main(role: str, database_url: str, amqp_urls: str) -> int:
    probe = Probe(database_url, json.loads(amqp_urls))
    parts = {
        "relay": lambda: [probe.relay()],
        "slow-relay": lambda: [
            SlowRelay(PRODUCER, outbox_rows, probe.uow, probe.amqp_urls[PRODUCER], batch_size=25)
        ],
        "consumer": lambda: [probe.consumer()],
        "worker": lambda: [probe.relay(), probe.consumer()],
    }[role]()
    return run_until_signalled(*parts)


if __name__ == "__main__":
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s probe %(levelname)s %(name)s: %(message)s"
    )
    sys.exit(main(*sys.argv[1:4]))
