"""Benchmark: reassigning 10,000 open tasks, against publishing 10,000 messages raw, in one run.

reassign  a job over N open tasks in the real tracker worker (batches, outbox, relay with
          confirms), timed from the job's start until every task.assigned of it is published;
raw       pika publishes N persistent messages of the same size to a quorum queue.

Prints both times and the ratio reassign / raw (how many times longer the real thing takes).

    python -m bench.reassign [--tasks 10000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika
from sqlalchemy import func, insert, select

from ates import clock, migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from bench.bus import throw_away_vhost
from tracker import service
from tracker.models import accounts, outbox, tasks

ROOT = Path(__file__).resolve().parent.parent
BODY = b'{"specversion":"1.0"}'.ljust(560, b" ")  # about the size of a task.assigned message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    count = parser.parse_args().tasks
    with throw_away_vhost() as broker:
        raw = time_raw_publish(broker.amqp_url, count)
        reassign = time_reassignment(broker, count)
    print(f"tasks:     {count}")
    print(f"raw:       {raw:6.2f}s  pika publishes {count} persistent messages")
    print(f"reassign:  {reassign:6.2f}s  job start -> every task.assigned published")
    print(f"ratio:     {reassign / raw:.1f}  (reassign time / raw publish time)")


def time_raw_publish(amqp_url: str, count: int) -> float:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.queue_declare("bench.raw", durable=True, arguments={"x-queue-type": "quorum"})
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        started = time.perf_counter()
        for _ in range(count):
            channel.basic_publish("", "bench.raw", BODY, properties)
        connection.process_data_events(0)
        return time.perf_counter() - started


def time_reassignment(broker, count: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/tracker.db"
        migrations.upgrade(ROOT / "tracker" / "migrations", url)
        engine = make_engine(url)
        uow = UnitOfWork(engine)
        open_tasks(uow, count)
        env = {**os.environ, "TRACKER_DATABASE_URL": url, **broker.env()}
        worker = subprocess.Popen(
            [sys.executable, "-m", "tracker.worker"],
            cwd=ROOT,
            env=env,
            stdout=open(Path(directory) / "worker.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(2.0)  # the worker is up and idle, as in production
            started = time.perf_counter()
            with uow.begin() as session:
                service.start_reassignment(session, str(uuid.uuid4()))
            while published_assignments(uow) < count:
                time.sleep(0.01)
            return time.perf_counter() - started
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            engine.dispose()


def open_tasks(uow: UnitOfWork, count: int, popugs: int = 20) -> tuple[list[str], list[str]]:
    """`popugs` assignable popugs in the tracker's replica and `count` open tasks spread over
    them; (their account ids, the task ids)."""
    popugs = [str(uuid.uuid4()) for _ in range(popugs)]
    task_ids = [str(uuid.uuid4()) for _ in range(count)]
    now = clock.utcnow()
    with uow.begin() as session:
        session.execute(
            insert(accounts),
            [
                {
                    "account_id": a,
                    "username": f"p{n}",
                    "role": "developer",
                    "active": True,
                    "assignable": True,
                    "version": 1,
                }
                for n, a in enumerate(popugs)
            ],
        )
        session.execute(
            insert(tasks),
            [
                {
                    "task_id": task_id,
                    "jira_id": None,
                    "title": f"task {n}",
                    "description": "",
                    "status": "open",
                    "assignee_id": popugs[n % len(popugs)],
                    "created_at": now,
                    "completed_at": None,
                    "version": 1,
                }
                for n, task_id in enumerate(task_ids)
            ],
        )
    return popugs, task_ids


def published_assignments(uow: UnitOfWork) -> int:
    with uow.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.event_type == "task.assigned", outbox.c.published_at.is_not(None))
        )


if __name__ == "__main__":
    main()
