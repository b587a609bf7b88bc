"""Benchmark: how long after a reassignment of 10,000 tasks the last popug's mail is in the SMTP
sink, against how long the reassignment itself takes, in one run.

reassign  the real tracker worker reassigns N open tasks over P popugs: job start -> every
          task.assigned published (as bench.reassign times it);
notify    the real notifier worker consumes those events, waits out the job's quiet time, makes
          one notice per popug and mails each to a real SMTP sink (mailsink): job start -> the
          last mail accepted.

Prints the notices made, both times and the ratio notify / reassign. The notifier is seeded with
the popugs and the tasks (as if it had heard of them before the job), so only the job is timed.

    python -m bench.notifier [--tasks 10000] [--popugs 100] [--quiet 1.0]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from bench.bus import throw_away_vhost
from bench.reassign import published_assignments
from mailsink import MailSink, stored_mails
from notifier.models import accounts as notifier_accounts
from notifier.models import notices
from notifier.models import tasks as notifier_tasks
from tests.apps import open_tasks
from tracker import reassigning

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--popugs", type=int, default=100)
    parser.add_argument("--quiet", type=float, default=1.0, help="ATES_REASSIGNMENT_QUIET_S")
    args = parser.parse_args()
    with throw_away_vhost() as broker, tempfile.TemporaryDirectory() as directory:
        found = run(broker, Path(directory), args.tasks, args.popugs, args.quiet)
    print(f"tasks:     {args.tasks} over {args.popugs} popugs; quiet time {args.quiet:.1f}s")
    print(f"notices:   {found['notices']} (one per popug the job touched)")
    print(f"reassign:  {found['reassign']:6.2f}s  job start -> every task.assigned published")
    print(f"notify:    {found['notify']:6.2f}s  job start -> the last mail accepted by the sink")
    print(f"ratio:     {found['notify'] / found['reassign']:.1f}  (notify time / reassign time)")


def run(broker, directory: Path, count: int, popugs: int, quiet: float) -> dict:
    tracker_url = f"sqlite:///{directory}/tracker.db"
    notifier_url = f"sqlite:///{directory}/notifier.db"
    migrations.upgrade(ROOT / "tracker" / "migrations", tracker_url)
    migrations.upgrade(ROOT / "notifier" / "migrations", notifier_url)
    tracker, notifier = UnitOfWork(make_engine(tracker_url)), UnitOfWork(make_engine(notifier_url))
    people, task_ids = open_tasks(tracker, count, popugs)
    _seed(notifier, people, task_ids)
    port = _free_port()
    sink = MailSink(directory / "mail", "127.0.0.1", port)
    threading.Thread(target=sink.run, daemon=True).start()
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": tracker_url,
        "NOTIFIER_DATABASE_URL": notifier_url,
        "ATES_SMTP_HOST": "127.0.0.1",
        "ATES_SMTP_PORT": str(port),
        "ATES_REASSIGNMENT_QUIET_S": str(quiet),
        "ATES_TRACKER_WORKER_METRICS_PORT": "0",
        "ATES_NOTIFIER_WORKER_METRICS_PORT": "0",
        **broker.env(),
    }
    subprocess.run(
        [sys.executable, "-m", "notifier.worker", "declare"], cwd=ROOT, env=env, check=True
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", f"{name}.worker"],
            cwd=ROOT,
            env=env,
            stdout=open(directory / f"{name}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        for name in ("tracker", "notifier")
    ]
    try:
        time.sleep(2.0)  # both workers up and idle, as in production
        started = time.perf_counter()
        with tracker.begin() as session:
            reassigning.start_reassignment(session, str(uuid.uuid4()))
        reassign = None
        while True:
            now = time.perf_counter() - started
            if reassign is None and published_assignments(tracker) >= count:
                reassign = now
            if len(stored_mails(directory / "mail")) >= popugs:
                notify = now
                break
            if now > 600:
                raise RuntimeError("no mail for every popug within 10 minutes")
            time.sleep(0.02)
        with notifier.read() as session:
            made = session.scalar(select(func.count()).select_from(notices))
        return {"reassign": reassign or notify, "notify": notify, "notices": made}
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        sink.stop()


def _seed(notifier: UnitOfWork, people: list[str], task_ids: list[str]) -> None:
    """What the notifier heard of the popugs and the tasks before the job."""
    with notifier.begin() as session:
        session.execute(
            insert(notifier_accounts),
            [
                {
                    "account_id": a,
                    "username": f"p{n}",
                    "email": f"p{n}@uberpopug.example",
                    "full_name": f"Popug {n}",
                    "role": "developer",
                    "active": True,
                    "version": 1,
                }
                for n, a in enumerate(people)
            ],
        )
        session.execute(
            insert(notifier_tasks),
            [
                {"task_id": t, "jira_id": None, "title": f"task {n}", "details_version": 1}
                for n, t in enumerate(task_ids)
            ],
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
