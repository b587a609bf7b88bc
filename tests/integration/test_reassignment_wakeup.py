"""A new reassignment job wakes the tracker's runner at once on PostgreSQL (the job's transaction
notifies `reassigning.WAKEUP_CHANNEL` when it commits); with wakeups off the runner's poll finds
it. The runners here poll far more slowly than any test waits, so only a wakeup can explain a job
taken in time."""

import threading
import uuid
from pathlib import Path

import pytest

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.apps import open_tasks
from tests.conftest import eventually
from tests.databases import postgres_database
from tracker import reassigning
from tracker.worker import ReassignmentRunner

ROOT = Path(__file__).resolve().parents[2]
TASKS = 30


@pytest.fixture
def tracker_uow():
    with postgres_database("test_runner_wakeup") as url:
        migrations.upgrade(ROOT / "tracker" / "migrations", url)
        uow = UnitOfWork(make_engine(url))
        open_tasks(uow, TASKS, 3)
        yield uow
        uow.dispose()


class CountedRunner(ReassignmentRunner):
    """A runner that counts its looks at the running jobs, so the test knows it is waiting."""

    looks = 0

    def work_through_running_jobs(self) -> None:
        super().work_through_running_jobs()
        self.looks += 1


def running(runner: ReassignmentRunner) -> threading.Thread:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


def start_job(uow: UnitOfWork, rolled_back: bool = False) -> str:
    session = uow._writers()
    try:
        job = reassigning.start_reassignment(session, str(uuid.uuid4()))
        session.rollback() if rolled_back else session.commit()
    finally:
        session.close()
    return job["reassignment_id"]


def status(uow: UnitOfWork, reassignment_id: str) -> str | None:
    with uow.read() as session:
        try:
            return reassigning.get_reassignment(session, reassignment_id)["status"]
        except reassigning.TaskNotFound:
            return None


def test_a_new_job_wakes_a_waiting_runner_at_once(tracker_uow):
    runner = CountedRunner(tracker_uow, poll_interval=600)
    thread = running(runner)
    try:
        eventually(lambda: runner.wakeups.listening and runner.looks >= 1, message="a first look")
        rolled_back = start_job(tracker_uow, rolled_back=True)  # notifies nobody
        job = start_job(tracker_uow)
        eventually(lambda: status(tracker_uow, job) == "done", message="the job taken and done")
        assert status(tracker_uow, rolled_back) is None
        assert runner.looks >= 2
    finally:
        runner.stop()
        thread.join(timeout=10)
    assert not thread.is_alive(), "a runner waiting on its socket stops when told"
    assert not runner.wakeups.listening


def test_with_wakeups_off_the_runner_finds_a_job_by_its_poll(tracker_uow):
    runner = CountedRunner(tracker_uow, poll_interval=0.2, wakeups=False)
    thread = running(runner)
    try:
        eventually(lambda: runner.looks >= 1, message="a first look")
        job = start_job(tracker_uow)
        eventually(lambda: status(tracker_uow, job) == "done", message="the job found by the poll")
        assert not runner.wakeups.listening
    finally:
        runner.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
