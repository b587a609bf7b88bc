"""Benchmark: what a second worker process adds to accounting on PostgreSQL, in one run.

consumers  N of the tracker's events (tasks created, assigned, reassigned, updated; no completion,
           so no event waits for another) go to accounting's one queue; 1 and then 2 real
           `accounting.worker` processes apply them to their service's PostgreSQL database
           through the inbox. Clock: from the first event published to the last one committed.
relays     the outbox those events filled (each task priced, each fee on the ledger) is published
           again by the same processes' relays, with confirms, to a quorum queue bound to
           `accounting.events` (several rounds; the median counts). With 2 processes one relay
           holds the lease and the other stands by, so a second process is failover for
           publishing, not throughput.

Each measurement gets its own virtual host and database; each set-up is measured `--rounds`
times, in the order 1, 2, 2, 1, so that other work on the machine touches both alike. Prints the
best rate of each kind with 1 and with 2 processes, their ratio (2 / 1) and every rate measured.

    python -m bench.scale [--events 4000] [--rounds 2]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pika
from sqlalchemy import func, select, text, update

from accounting.models import inbox, outbox
from ates import migrations
from ates.bus import Event
from ates.bus.topology import exchange_name, queue_name, relay_lease_name
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.conftest import _throw_away_vhost
from tests.databases import postgres_database
from tests.integration.accounting_fixtures import TrackerStory

ROOT = Path(__file__).resolve().parent.parent
QUEUE = queue_name("accounting", "tracker")
DOWNSTREAM = "bench.accounting-events"  # stands for analytics' and the notifier's queues
POPUGS = 100
# One round of a few thousand rows is over in about half a second, short enough for a burst of
# other work on the machine to halve it: the median of several rounds is the relay's rate.
RELAY_ROUNDS = 7
TIMEOUT_S = 120.0
LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@dataclass(frozen=True)
class Measurement:
    processes: int
    consumed: int  # events applied
    consuming_s: float
    published: int  # outbox rows published again in each round
    publishing_s: float  # the median round's time
    lock_waits: (
        float  # share of the samples taken while consuming in which a worker waited on a lock
    )
    deadlocks: int  # PostgreSQL's count for the database: each one a batch applied again
    busy: float  # the workers' CPU time while consuming, in cores (1.0: one core all the time)
    relays_publishing: int  # processes whose relay took the lease

    @property
    def consumer_rate(self) -> float:
        return self.consumed / self.consuming_s

    @property
    def relay_rate(self) -> float:
        return self.published / self.publishing_s


def report(ones: list[Measurement], twos: list[Measurement]) -> list[str]:
    """The lines the benchmark prints: the best rate of each kind with 1 and with 2 processes,
    their ratio (2 / 1), every rate measured, and what explains the consumers' ratio."""
    one, two = (max(runs, key=lambda m: m.consumer_rate) for runs in (ones, twos))
    relay_one, relay_two = (max(runs, key=lambda m: m.relay_rate) for runs in (ones, twos))
    publishing = sorted({m.relays_publishing for m in ones + twos})
    return [
        f"events:    {one.consumed} tracker events in; their {one.published} accounting events"
        f" out, {RELAY_ROUNDS} times (median); best of {len(ones)} and {len(twos)}",
        f"consumers: {one.consumer_rate:7.0f} events/s with 1 worker, "
        f"{two.consumer_rate:7.0f} with 2  -> ratio {two.consumer_rate / one.consumer_rate:.2f}"
        f"  (all: {_rates(ones, 'consumer_rate')} and {_rates(twos, 'consumer_rate')})",
        f"           with 2 a worker waited on a row lock in {two.lock_waits:.0%} of the samples"
        f" ({one.lock_waits:.0%} with 1), deadlocks {two.deadlocks} ({one.deadlocks});"
        f" worker CPU {two.busy:.2f} cores ({one.busy:.2f})",
        f"relays:    {relay_one.relay_rate:7.0f} events/s with 1 relay,  "
        f"{relay_two.relay_rate:7.0f} with 2  -> ratio "
        f"{relay_two.relay_rate / relay_one.relay_rate:.2f}"
        f"  (all: {_rates(ones, 'relay_rate')} and {_rates(twos, 'relay_rate')};"
        f" relays that published per measurement: {', '.join(map(str, publishing))})",
        "ceiling:   a producer publishes through one relay at a time (the lease); a second relay",
        "           is a standby that takes over when the first dies: it adds failover, not rate.",
    ]


def _rates(runs: list[Measurement], rate: str) -> str:
    return "/".join(f"{getattr(m, rate):.0f}" for m in runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each set-up")
    args = parser.parse_args(argv)
    events = tracker_events(args.events)
    measured: dict[int, list[Measurement]] = {1: [], 2: []}
    for processes in measurement_order(args.rounds):
        measured[processes].append(measure(processes, events))
    print("\n".join(report(measured[1], measured[2])))


def measurement_order(rounds: int) -> list[int]:
    """1, 2, 2, 1, 1, 2...: a load that grows or fades during the run touches both set-ups alike."""
    return [n for round_ in range(rounds) for n in ((1, 2) if round_ % 2 == 0 else (2, 1))]


def tracker_events(count: int) -> list[Event]:
    """`count` events of a tracker's day in its order, completions left out."""
    story = TrackerStory.told(tasks=count // 3 + 1, popugs=POPUGS, seed=5)
    return [event for event in story.events if event.type != "task.completed"][:count]


def measure(processes: int, events: list[Event]) -> Measurement:
    with (
        _throw_away_vhost() as broker,
        postgres_database("bench_scale") as url,
        tempfile.TemporaryDirectory() as directory,
    ):
        migrations.upgrade(ROOT / "accounting" / "migrations", url)
        engine = make_engine(url)
        uow = UnitOfWork(engine)
        bind_downstream_queue(broker.amqp_url)
        logs = [Path(directory) / f"worker-{n}.log" for n in range(processes)]
        env = {
            **os.environ,
            **broker.env(),
            "ACCOUNTING_DATABASE_URL": url,
            "ATES_VAR_DIR": directory,
            "ATES_TIMEZONE": "UTC",
            "ATES_ACCOUNTING_WORKER_METRICS_PORT": "0",  # several workers, one machine
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "accounting.worker"],
                cwd=ROOT,
                env=env,
                stdout=open(path, "wb"),
                stderr=subprocess.STDOUT,
            )
            for path in logs
        ]
        try:
            wait_until_ready(broker, processes)
            cpu_before = cpu_seconds(workers)
            consuming, lock_waits = time_consuming(broker, uow, events)
            busy = (cpu_seconds(workers) - cpu_before) / consuming
            wait_for(lambda: unpublished(uow) == 0, "the relay to catch up")
            published, publishing = time_publishing_again(uow)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=60)
            deadlocks = deadlocks_so_far(uow)
            engine.dispose()
        logged = [path.read_text() for path in logs]
    return Measurement(
        processes=processes,
        consumed=len(events),
        consuming_s=consuming,
        published=published,
        publishing_s=publishing,
        lock_waits=lock_waits,
        deadlocks=deadlocks,
        busy=busy,
        relays_publishing=sum("relay holds the lease" in log for log in logged),
    )


def bind_downstream_queue(amqp_url: str) -> None:
    """A quorum queue receiving every accounting event, so the relays' confirms mean a stored copy."""
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.exchange_declare(exchange_name("accounting"), exchange_type="topic", durable=True)
        channel.queue_declare(DOWNSTREAM, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(DOWNSTREAM, exchange_name("accounting"), "#")


def wait_until_ready(broker, processes: int) -> None:
    """Every process consumes the queue and has its relay connection; one relay holds the lease."""

    def ready() -> bool:
        try:
            with broker.channel() as channel:
                consumers = channel.queue_declare(QUEUE, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:  # not declared yet
            return False
        leased = relay_lease_name("accounting") in {
            q["name"] for q in broker.admin.queues(broker.vhost)
        }
        connections = len(broker.admin.connections(broker.vhost))
        return consumers == processes and leased and connections >= 2 * processes

    wait_for(ready, f"{processes} accounting worker(s) to be up")


def time_consuming(broker, uow: UnitOfWork, events: list[Event]) -> tuple[float, float]:
    """(Seconds until every event is applied, the share of the polls that found a worker waiting
    on a lock: another worker's transaction holding a row it needs, e.g. a popug's balance)."""
    polls = []

    def all_applied() -> bool:
        with uow.read() as session:
            count = session.scalar(select(func.count()).select_from(inbox))
            polls.append(session.scalar(LOCK_WAITERS) > 0)
        return count == len(events)

    started = time.perf_counter()
    publish_as_the_tracker(broker, events)
    wait_for(all_applied, f"{len(events)} events applied")
    return time.perf_counter() - started, sum(polls) / len(polls)


def publish_as_the_tracker(broker, events: list[Event]) -> None:
    """Through the tracker's exchange as its user, as its relay would, without waiting on confirms
    (the consumers are the ones measured); the closing round trip makes sure the broker has all."""
    with broker.channel("tracker") as channel:
        for event in events:
            channel.basic_publish(
                exchange_name("tracker"),
                event.routing_key,
                json.dumps(event.to_message()),
                pika.BasicProperties(
                    delivery_mode=pika.DeliveryMode.Persistent,
                    user_id=broker.user("tracker"),
                    message_id=event.id,
                ),
            )
        channel.connection.process_data_events(0)


def time_publishing_again(uow: UnitOfWork) -> tuple[int, float]:
    """`RELAY_ROUNDS` times: mark the whole outbox unpublished in one transaction and wait until
    the broker has confirmed every row and the relay has marked it published again; (rows, the
    median round's seconds)."""
    with uow.read() as session:
        rows = session.scalar(select(func.count()).select_from(outbox)) or 0
    rounds = []
    for _ in range(RELAY_ROUNDS):
        started = time.perf_counter()
        with uow.begin() as session:
            session.execute(update(outbox).values(published_at=None))
        wait_for(lambda: unpublished(uow) == 0, "the outbox published again", interval=0.02)
        rounds.append(time.perf_counter() - started)
    return rows, statistics.median(rounds)


def unpublished(uow: UnitOfWork) -> int:
    with uow.read() as session:
        return (
            session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            or 0
        )


def cpu_seconds(processes: list[subprocess.Popen]) -> float:
    """User and system CPU time the processes used so far (Linux: /proc/<pid>/stat)."""
    ticks = 0
    for process in processes:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: the stat line's 14th and 15th
    return ticks / os.sysconf("SC_CLK_TCK")


def deadlocks_so_far(uow: UnitOfWork) -> int:
    with uow.read() as session:
        return session.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )


def wait_for(condition, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {TIMEOUT_S:.0f}s waiting for {what}")
        time.sleep(interval)


if __name__ == "__main__":
    main()
