"""The notifier worker as a real process on the real broker, mailing into a real SMTP sink: a working
day's events shuffled and doubled give every notice and every mail once; a reassignment of 10,000
tasks over 100 popugs gives exactly one notice (and one mail) per popug."""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from mailsink import stored_mails, subject_of
from notifier.models import accounts, notices, reassignment_changes, tasks
from tests.conftest import eventually
from tests.notifier_story import START, assigned, shuffled_with_duplicates, working_day

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker


class NotifierWorker:
    """`python -m notifier.worker` on the test's own database, broker vhost and SMTP sink."""

    def __init__(self, tmp_path, broker, smtp_port: int, quiet: str = "1"):
        url = f"sqlite:///{tmp_path / 'notifier.db'}"
        migrations.upgrade(ROOT / "notifier" / "migrations", url)
        self.uow = UnitOfWork(make_engine(url))
        self.log = tmp_path / "worker.log"
        self.env = {
            **os.environ,
            "NOTIFIER_DATABASE_URL": url,
            **broker.env(),
            "ATES_SMTP_HOST": "127.0.0.1",
            "ATES_SMTP_PORT": str(smtp_port),
            "ATES_REASSIGNMENT_QUIET_S": quiet,
            "ATES_RETRY_DELAYS_MS": "200,400,800,1600,3200",
            "ATES_NOTIFIER_WORKER_METRICS_PORT": "0",
        }
        declared = subprocess.run(
            [sys.executable, "-m", "notifier.worker", "declare"], cwd=ROOT, env=self.env
        )
        assert declared.returncode == 0
        self.process = None

    def start(self) -> "NotifierWorker":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "notifier.worker"],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            assert self.process.wait(20) == 0, self.log.read_text()[-3000:]
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture
def worker(tmp_path, broker, sink):
    found = NotifierWorker(tmp_path, broker, sink[0])
    yield found
    if found.process is not None and found.process.poll() is None:
        found.stop()


@pytest.fixture
def notifier_worker(worker):
    return worker.start().uow


def mails_in(maildir: Path) -> Counter:
    return Counter((mail["To"], subject_of(mail)) for mail in stored_mails(maildir))


def dead_letters(broker) -> int:
    return sum(
        broker.message_count(f"notifier.{producer}.dead")
        for producer in ("auth", "tracker", "accounting")
    )


def test_a_shuffled_doubled_day_gives_every_notice_and_mail_once(broker, sink, notifier_worker):
    story = working_day()
    broker.publish_events(
        shuffled_with_duplicates(story.events, 7), content_type="application/json"
    )
    maildir = sink[1]
    eventually(
        lambda: mails_in(maildir) == story.mails,
        timeout=60,
        message=f"the story's mails: {story.mails}",
    )
    time.sleep(3)  # nothing more comes: no notice twice, no mail twice
    assert mails_in(maildir) == story.mails
    assert len({mail["Message-ID"] for mail in stored_mails(maildir)}) == len(story.mails)
    with notifier_worker.read() as session:
        assert session.scalar(select(func.count()).select_from(notices)) == sum(
            story.notices.values()
        )
    assert dead_letters(broker) == 0


def seed(uow, popugs: list[str], task_ids: list[str]) -> None:
    """What the notifier learnt of the popugs and the tasks before the job."""
    with uow.begin() as session:
        session.execute(
            insert(accounts),
            [
                {
                    "account_id": p,
                    "username": f"popug{n}",
                    "email": f"popug{n}@uberpopug.example",
                    "full_name": f"Popug {n}",
                    "role": "developer",
                    "active": True,
                    "version": 1,
                }
                for n, p in enumerate(popugs)
            ],
        )
        session.execute(
            insert(tasks),
            [
                {
                    "task_id": t,
                    "jira_id": f"UBERPOP-{n}",
                    "title": f"task {n}",
                    "details_version": 1,
                }
                for n, t in enumerate(task_ids)
            ],
        )


def waiting_changes(uow) -> int:
    with uow.read() as session:
        return session.scalar(select(func.count()).select_from(reassignment_changes))


def test_a_reassignment_of_10000_tasks_is_one_notice_and_one_mail_per_popug(
    broker, sink, notifier_worker
):
    popugs = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]
    task_ids = [f"10000000-0000-4000-8000-{n:012d}" for n in range(10_000)]
    seed(notifier_worker, popugs, task_ids)
    job = "20000000-0000-4000-8000-000000000000"
    broker.publish_events(
        [
            assigned(t, popugs[(n + 7) % 100], popugs[n % 100], START, job)
            for n, t in enumerate(task_ids)
        ],
        content_type="application/json",
    )
    eventually(
        lambda: len(stored_mails(sink[1])) >= 100,
        timeout=120,
        message="a mail for each of 100 popugs",
    )
    time.sleep(2)
    mails = stored_mails(sink[1])
    assert len(mails) == 100 and len({mail["To"] for mail in mails}) == 100
    assert {subject_of(mail) for mail in mails} == {
        "Reassignment: you got 100 tasks, lost 100 tasks"
    }
    with notifier_worker.read() as session:
        facts = session.scalars(select(notices.c.facts)).all()
    assert len(facts) == 100
    assert sorted(t for f in facts for t in f["got"]) == sorted(task_ids)
    assert dead_letters(broker) == 0


def test_a_notifier_killed_in_the_middle_of_a_job_tells_each_popug_once(tmp_path, broker, sink):
    """Killed with half a job applied and down for longer than the quiet time: on its return it
    first takes in what waited in its queue, then tells each popug the whole job in one notice."""
    worker = NotifierWorker(tmp_path, broker, sink[0], quiet="3").start()
    popugs = [f"00000000-0000-4000-8000-{n:012d}" for n in range(20)]
    task_ids = [f"10000000-0000-4000-8000-{n:012d}" for n in range(2_000)]
    seed(worker.uow, popugs, task_ids)
    job = "20000000-0000-4000-8000-000000000009"
    events = [
        assigned(t, popugs[(n + 3) % 20], popugs[n % 20], START, job)
        for n, t in enumerate(task_ids)
    ]
    try:
        broker.publish_events(events[:1_000], content_type="application/json")
        eventually(lambda: waiting_changes(worker.uow) == 2_000, timeout=60, interval=0.02)
        worker.kill()  # within the quiet time: nothing told yet
        with worker.uow.read() as session:
            assert session.scalar(select(func.count()).select_from(notices)) == 0
        broker.publish_events(events[1_000:], content_type="application/json")
        time.sleep(3.5)  # away for longer than the quiet time
        worker.start()
        eventually(lambda: len(stored_mails(sink[1])) >= 20, timeout=60, message="20 mails")
        time.sleep(4)  # a "continued" notice would come now
        with worker.uow.read() as session:
            facts = session.scalars(select(notices.c.facts)).all()
        assert len(facts) == 20 and {f["part"] for f in facts} == {1}
        assert sorted(t for f in facts for t in f["got"]) == sorted(task_ids)
        assert len(stored_mails(sink[1])) == 20
    finally:
        worker.stop()
