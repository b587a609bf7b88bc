"""The notifier worker as a real process on the real broker, mailing into a real SMTP sink: a working
day's events shuffled and doubled give every notice and every mail once; a reassignment of 10,000
tasks over 100 popugs gives exactly one notice (and one mail) per popug."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from mailsink import MailSink, stored_mails, subject_of
from notifier.models import accounts, notices, tasks
from tests.conftest import eventually
from tests.notifier_story import START, assigned, shuffled_with_duplicates, working_day

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sink(tmp_path):
    """A real SMTP server on a free loopback port, storing into a Maildir of the test's own."""
    port = free_port()
    server = MailSink(tmp_path / "mail", "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield port, tmp_path / "mail"
    server.stop()
    thread.join(10)


@pytest.fixture
def notifier_worker(tmp_path, broker, sink):
    url = f"sqlite:///{tmp_path / 'notifier.db'}"
    migrations.upgrade(ROOT / "notifier" / "migrations", url)
    env = {
        **os.environ,
        "NOTIFIER_DATABASE_URL": url,
        **broker.env(),
        "ATES_SMTP_HOST": "127.0.0.1",
        "ATES_SMTP_PORT": str(sink[0]),
        "ATES_REASSIGNMENT_QUIET_S": "1",
        "ATES_RETRY_DELAYS_MS": "200,400,800,1600,3200",
        "ATES_NOTIFIER_WORKER_METRICS_PORT": "0",
    }
    declared = subprocess.run(
        [sys.executable, "-m", "notifier.worker", "declare"], cwd=ROOT, env=env
    )
    assert declared.returncode == 0
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "notifier.worker"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    yield UnitOfWork(make_engine(url))
    worker.terminate()
    try:
        assert worker.wait(20) == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()


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


def test_a_reassignment_of_10000_tasks_is_one_notice_and_one_mail_per_popug(
    broker, sink, notifier_worker
):
    popugs = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]
    task_ids = [f"10000000-0000-4000-8000-{n:012d}" for n in range(10_000)]
    with notifier_worker.begin() as session:  # what the notifier learnt of them before the job
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
