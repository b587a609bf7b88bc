"""A worker's parts in processes of their own: `<service>.worker run --only consumer` runs the
consumer and the jobs but publishes nothing; `--only relay` publishes the outbox and does nothing
else. Together they do what one plain worker does (bench.reassign: the relay beside a busy
reassignment job instead of sharing its interpreter lock)."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.apps import open_tasks
from tests.conftest import eventually
from tracker import reassigning
from tracker.models import outbox

ROOT = Path(__file__).resolve().parents[2]
TASKS = 200

pytestmark = pytest.mark.broker


def start_worker(url, broker, log_path, *only):
    env = {**os.environ, "TRACKER_DATABASE_URL": url, **broker.env()}
    return subprocess.Popen(
        [sys.executable, "-m", "tracker.worker", "run", *only],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )


def test_the_jobs_run_without_a_relay_and_the_relay_publishes_what_they_wrote(tmp_path, broker):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrations.upgrade(ROOT / "tracker" / "migrations", url)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    open_tasks(uow, TASKS, 5)
    with uow.begin() as session:
        job = reassigning.start_reassignment(session, str(uuid.uuid4()))["reassignment_id"]

    def status():
        with uow.read() as session:
            return reassigning.get_reassignment(session, job)["status"]

    def outbox_rows():
        with uow.read() as session:
            unpublished = outbox.c.published_at.is_(None)
            return (
                session.scalar(select(func.count()).select_from(outbox)),
                session.scalar(select(func.count()).select_from(outbox).where(unpublished)),
            )

    workers = [start_worker(url, broker, tmp_path / "consumer.log", "--only", "consumer")]
    try:
        eventually(lambda: status() == "done", timeout=60, message="the job to finish")
        time.sleep(1.0)  # a relay in this process would have published by now
        assert outbox_rows() == (2 * TASKS, 2 * TASKS)  # task.assigned and task.updated each

        workers.append(start_worker(url, broker, tmp_path / "relay.log", "--only", "relay"))
        eventually(
            lambda: outbox_rows() == (2 * TASKS, 0), timeout=60, message="the relay to publish"
        )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=60) for worker in workers]
        engine.dispose()
    assert codes == [0, 0]


def test_a_relay_alone_runs_no_job(tmp_path, broker):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrations.upgrade(ROOT / "tracker" / "migrations", url)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    open_tasks(uow, 20, 2)
    with uow.begin() as session:
        job = reassigning.start_reassignment(session, str(uuid.uuid4()))["reassignment_id"]
    relay = start_worker(url, broker, tmp_path / "relay.log", "--only", "relay")
    try:
        eventually(
            lambda: "holds the lease" in (tmp_path / "relay.log").read_text(),
            timeout=60,
            message="the relay to start publishing",
        )
        time.sleep(1.5)  # the reassignment runner polls every 0.5 s where it runs
        with uow.read() as session:
            assert reassigning.get_reassignment(session, job)["reassigned"] == 0
    finally:
        relay.send_signal(signal.SIGTERM)
        code = relay.wait(timeout=60)
        engine.dispose()
    assert code == 0
