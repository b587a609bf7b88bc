"""Two tracker workers on one PostgreSQL database: their reassignment runners share the jobs
(`FOR UPDATE SKIP LOCKED`), each task is assigned once per job, and both do part of the work.

The test holds the last items of one job locked in a transaction of its own, as a third runner in
the middle of a batch would: the two runners must go round them (without SKIP LOCKED they would
wait for it forever), must not call that job finished while they are held, and must take them once
the holder rolls back, as a crashed runner's batch would.
"""

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pika
import pytest
from sqlalchemy import func, select

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.apps import open_tasks
from tests.conftest import eventually
from tests.databases import postgres_database
from tracker import reassigning
from tracker.models import outbox, reassignment_items, task_activity, tasks

ROOT = Path(__file__).resolve().parents[2]
TASKS = 6_000  # twelve of the runner's 500-task batches per job
HELD = 100  # the last items of the first job, locked by the test
WORKERS = (1, 2)
BATCH_LINE = re.compile(r"reassignment (\S+): took (\d+) of its tasks")

pytestmark = pytest.mark.broker


@pytest.fixture
def tracker_db():
    with postgres_database("test_runners") as url:
        migrations.upgrade(ROOT / "tracker" / "migrations", url)
        engine = make_engine(url)
        uow = UnitOfWork(engine)
        open_tasks(uow, TASKS, 11)
        yield url, uow
        engine.dispose()


def start_worker(url: str, broker, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": url,
        "ATES_TRACKER_WORKER_METRICS_PORT": "0",  # two workers on one machine: no port to share
        **broker.env(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tracker.worker"],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )


def stop(worker: subprocess.Popen) -> int:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    return worker.wait(timeout=60)


def taken_by_each(logs: list[Path]) -> list[Counter]:
    """Per worker: how many of each job's tasks its runner's committed batches took (its log lines)."""
    taken = []
    for path in logs:
        counts: Counter = Counter()
        for line in path.read_text().splitlines():
            found = BATCH_LINE.search(line)
            if found:
                counts[found[1]] += int(found[2])
        taken.append(counts)
    return taken


def job(uow: UnitOfWork, reassignment_id: str) -> dict:
    with uow.read() as session:
        found = reassigning.get_reassignment(session, reassignment_id)
        found["items_done"] = session.scalar(
            select(func.count())
            .select_from(reassignment_items)
            .where(
                reassignment_items.c.reassignment_id == reassignment_id,
                reassignment_items.c.done.is_(True),
            )
        )
    return found


def assignments(uow: UnitOfWork) -> tuple[Counter, Counter]:
    """(reassignment id, task id) -> how often: in the outbox's task.assigned events, in the activity log."""
    with uow.read() as session:
        bodies = session.scalars(
            select(outbox.c.body).where(outbox.c.event_type == "task.assigned")
        )
        events = Counter(
            (data["reassignment_id"], data["task_id"])
            for data in (json.loads(body)["data"] for body in bodies)
        )
        logged = Counter(
            session.execute(
                select(task_activity.c.reassignment_id, task_activity.c.task_id).where(
                    task_activity.c.kind == "assigned"
                )
            ).all()
        )
    return events, logged


def test_two_runners_share_the_jobs_and_assign_each_task_once_per_job(tracker_db, broker, tmp_path):
    url, uow = tracker_db
    logs = [tmp_path / f"worker-{n}.log" for n in WORKERS]
    workers = [start_worker(url, broker, path) for path in logs]
    holder = uow.engine.connect()
    try:

        def both_consuming() -> bool:
            try:
                with broker.channel() as channel:
                    queue = channel.queue_declare("tracker.auth", passive=True)
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet
                return False
            return queue.method.consumer_count == len(WORKERS)

        eventually(both_consuming, timeout=60, message="both tracker workers to be up")
        with uow.begin() as session:  # the runners poll: both find these two jobs
            first = reassigning.start_reassignment(session, str(uuid.uuid4()))["reassignment_id"]
            second = reassigning.start_reassignment(session, str(uuid.uuid4()))["reassignment_id"]
        # The runners take items in task id order, so the last ones are still free: NOWAIT says so.
        holder.begin()
        held = holder.scalars(
            select(reassignment_items.c.task_id)
            .where(reassignment_items.c.reassignment_id == first)
            .order_by(reassignment_items.c.task_id.desc())
            .limit(HELD)
            .with_for_update(nowait=True)
        ).all()
        assert len(held) == HELD

        eventually(
            lambda: (
                job(uow, first)["items_done"] == TASKS - HELD
                and job(uow, second)["status"] == "done"
            ),
            timeout=120,
            interval=0.2,
            message="the runners to go round the held items and finish the other job",
        )
        assert job(uow, first)["status"] == "running", "finished while its last items were held"
        assert job(uow, first)["reassigned"] == TASKS - HELD
        holder.rollback()  # the holder's batch is gone, as a crashed runner's would be
        eventually(
            lambda: job(uow, first)["status"] == "done",
            timeout=120,
            message="the runners to take the released items",
        )
        assert all(worker.poll() is None for worker in workers)
    finally:
        holder.close()
        codes = [stop(worker) for worker in workers]
    assert codes == [0, 0]

    events, logged = assignments(uow)
    every_task = {(j, task) for j in (first, second) for task in all_task_ids(uow)}
    assert set(events) == every_task and set(events.values()) == {1}
    assert logged == events
    assert [job(uow, j)["reassigned"] for j in (first, second)] == [TASKS, TASKS]
    with uow.read() as session:
        versions = Counter(session.scalars(select(tasks.c.version)))
    assert versions == {3: TASKS}  # created at 1, assigned once by each job

    taken = taken_by_each(logs)
    assert sum(taken, Counter()) == {first: TASKS, second: TASKS}
    assert all(sum(counts.values()) > 0 for counts in taken), f"one runner did it all: {taken}"
    lines = [line for path in logs for line in path.read_text().splitlines()]
    assert [line for line in lines if '"level": "ERROR"' in line or "Traceback" in line] == []
    print(f"tasks each runner took, per job: {[dict(counts) for counts in taken]}")


def all_task_ids(uow: UnitOfWork) -> list[str]:
    with uow.read() as session:
        return list(session.scalars(select(tasks.c.task_id)))
