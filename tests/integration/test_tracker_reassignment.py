"""Reassigning 10,000 open tasks in the real tracker worker, killed half-way and started again."""

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
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
TASKS = 10_000

pytestmark = pytest.mark.broker


@pytest.fixture
def tracker_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrations.upgrade(ROOT / "tracker" / "migrations", url)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    open_tasks(uow, TASKS, 7)
    yield url, uow
    engine.dispose()


def start_worker(url, broker, log_path):
    env = {**os.environ, "TRACKER_DATABASE_URL": url, **broker.env()}
    return subprocess.Popen(
        [sys.executable, "-m", "tracker.worker"],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_killed_reassignment_resumes_and_assigns_every_task_exactly_once(
    tracker_db, broker, tmp_path
):
    url, uow = tracker_db
    with uow.begin() as session:
        job = reassigning.start_reassignment(session, str(uuid.uuid4()))["reassignment_id"]

    def progress():
        with uow.read() as session:
            return reassigning.get_reassignment(session, job)

    worker = start_worker(url, broker, tmp_path / "worker.log")
    eventually(
        lambda: progress()["reassigned"] >= 1500, timeout=120, message="the job to be under way"
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = progress()["reassigned"]
    assert 0 < killed_at < TASKS, "the kill should land in the middle of the job"
    worker = start_worker(url, broker, tmp_path / "worker.log")
    try:
        eventually(lambda: progress()["status"] == "done", timeout=300, message="the job to finish")
        with uow.read() as session:
            bodies = session.scalars(
                select(outbox.c.body).where(outbox.c.event_type == "task.assigned")
            )
            by_task = Counter(json.loads(body)["data"]["task_id"] for body in bodies)
        assert len(by_task) == TASKS and set(by_task.values()) == {1}
        assert progress()["reassigned"] == TASKS

        def unpublished():
            with uow.read() as session:
                return session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                )

        eventually(
            lambda: unpublished() == 0, timeout=120, message="the relay to publish every event"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
