"""Benchmark: reassigning 10,000 open tasks, against publishing their events raw, in one run.

reassign     a job over N open tasks in the real tracker worker (batches, outbox, relay with
             confirms), timed from the job's start until every task.assigned of it is published
             (the job publishes 2N events: task.assigned and task.updated for each task);
confirmed    the fastest reliable raw way to publish the same 2N persistent messages: pika with
             publisher confirms, up to 1,000 unconfirmed at once (bench/raw.py), until the last
             one is confirmed;
unconfirmed  the same 2N without confirms, for reference only.

The same messages: raw's go to the tracker's exchange with the job's routing keys and the
properties the relay gives an outbox row (`ates.bus.publishing.message_properties`), and every
side's land in one quorum queue bound to that exchange (as accounting's queue takes the tracker's
events), emptied before each measurement. (Before, raw went to a queue through the default exchange
with plain properties and the job's events to an exchange with no queue, which the broker
confirmed unstored: ratios measured so flatter the job; the README says which those are.)

Prints the three times and the ratio to beat: reassign / confirmed raw.

    python -m bench.reassign [--tasks 10000] [--database sqlite|postgresql]
"""

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pika
from sqlalchemy import func, select, text

from ates import migrations
from ates.bus import topology
from ates.bus.publishing import message_properties
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from bench import raw
from bench.bus import throw_away_vhost
from tests.apps import open_tasks
from tests.databases import postgres_database
from tracker import reassigning
from tracker.models import outbox

ROOT = Path(__file__).resolve().parent.parent
EVENTS_QUEUE = "bench.tracker-events"
# a body of about a task.assigned message's size, its correlation id last as the outbox writes it
BODY = f'{{"specversion":"1.0","data":"{"." * 460}","correlationid":"{uuid.uuid4()}"}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    count = args.tasks
    with throw_away_vhost() as broker:
        url = broker.amqp_url
        bind_a_queue(url)
        messages = the_jobs_messages(url, 2 * count)
        unconfirmed = raw.publish_unconfirmed(url, messages, 2 * count, BODY.encode())
        empty_the_queue(url)
        confirmed = raw.publish_confirmed(url, messages, 2 * count, BODY.encode())
        empty_the_queue(url)
        reassign = time_reassignment(broker, count, args.database)
        empty_the_queue(url)
        separate = time_reassignment(broker, count, args.database, separate=True)
    events = 2 * count
    print(f"tasks:       {count} (the job publishes {events} events), on {args.database}")
    print(f"unconfirmed: {unconfirmed:6.2f}s  raw pika, {events} messages, no confirms (reference)")
    print(f"confirmed:   {confirmed:6.2f}s  raw pika, {events} messages, confirms pipelined")
    print(f"reassign:    {reassign:6.2f}s  job start -> every task.assigned published")
    print(f"ratio:       {reassign / confirmed:.1f}  (reassign / confirmed raw; goal <= 2)")
    print(f"separate:    {separate:6.2f}s  the relay in a process of its own (--only relay)")
    print(f"ratio:       {separate / confirmed:.1f}  (separate / confirmed raw; goal <= 2)")


def bind_a_queue(amqp_url: str) -> None:
    """A quorum queue for every tracker event. With none bound the broker confirms the job's
    events at once and stores none: RabbitMQ's CPU for a job's 20,000 was 0.3 s then, 1.1-1.2 s
    stored."""
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        topology.declare_exchange(channel, "tracker")
        raw.declare_queue(amqp_url, EVENTS_QUEUE)
        channel.queue_bind(EVENTS_QUEUE, topology.exchange_name("tracker"), "#")


def empty_the_queue(amqp_url: str) -> None:
    """Each measurement starts with the queue empty."""
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        connection.channel().queue_purge(EVENTS_QUEUE)


def the_jobs_messages(amqp_url: str, count: int) -> raw.Messages:
    """The job's messages as the relay sends them: task.assigned v1 and task.updated v2 in turn,
    each with its own event id, the relay's properties and the connection's user."""
    user = pika.URLParameters(amqp_url).credentials.username
    keys_and_properties = []
    for n in range(count):
        event_type, version = ("task.assigned", 1) if n % 2 == 0 else ("task.updated", 2)
        row = SimpleNamespace(event_id=str(uuid.uuid4()), event_type=event_type, body=BODY)
        keys_and_properties.append(
            (f"{event_type}.v{version}", message_properties(row, "tracker", user))
        )
    return raw.Messages(topology.exchange_name("tracker"), keys_and_properties)


def time_reassignment(
    broker, count: int, database: str = "sqlite", separate: bool = False
) -> float:
    with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as stack:
        url = (
            stack.enter_context(postgres_database("bench"))
            if database == "postgresql"
            else f"sqlite:///{directory}/tracker.db"
        )
        migrations.upgrade(ROOT / "tracker" / "migrations", url)
        engine = make_engine(url)
        uow = UnitOfWork(engine)
        open_tasks(uow, count)
        if database == "postgresql":
            # as autovacuum would have by now on a table that grew to this size over weeks: the
            # planner knows how many tasks there are (it reads 500 of 100,000 by index, then)
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        env = {**os.environ, "TRACKER_DATABASE_URL": url, **broker.env()}
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "tracker.worker", "run", *only],
                cwd=ROOT,
                env=env,
                stdout=open(Path(directory) / f"worker{n}.log", "wb"),
                stderr=subprocess.STDOUT,
            )
            for n, only in enumerate(
                [["--only", "consumer"], ["--only", "relay"]] if separate else [[]]
            )
        ]
        try:
            watch = stack.enter_context(contextlib.closing(engine.raw_connection()))
            if database == "postgresql":  # each look a statement of its own, no transaction
                watch.driver_connection.autocommit = True
            time.sleep(2.0)  # the worker is up and idle, as in production
            started = time.perf_counter()
            with uow.begin() as session:
                job = reassigning.start_reassignment(session, str(uuid.uuid4()))
            while not all_published(watch, job["reassignment_id"]):
                time.sleep(0.025)  # 1 % of the time measured
            elapsed = time.perf_counter() - started
            if published_assignments(uow) != count:
                raise SystemExit(f"the job published {published_assignments(uow)} of {count}")
            return elapsed
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
            engine.dispose()


def all_published(watch, reassignment_id: str) -> bool:
    """The job is done (every batch committed) and the outbox holds nothing unpublished: two
    index lookups on a connection of the benchmark's own, in autocommit, so that watching costs
    the measured system next to nothing (counting the outbox's published rows every 10 ms, in a
    transaction each, took a third of a core from PostgreSQL)."""
    cursor = watch.cursor()
    try:
        # the job's id is the benchmark's own UUID: written into the statement, whatever the driver
        cursor.execute(
            f"SELECT status FROM reassignments WHERE reassignment_id = '{reassignment_id}'"
        )
        if cursor.fetchone()[0] != "done":
            return False
        cursor.execute("SELECT id FROM outbox WHERE published_at IS NULL LIMIT 1")
        return cursor.fetchone() is None
    finally:
        cursor.close()


def published_assignments(uow: UnitOfWork) -> int:
    with uow.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.event_type == "task.assigned", outbox.c.published_at.is_not(None))
        )


if __name__ == "__main__":
    main()
