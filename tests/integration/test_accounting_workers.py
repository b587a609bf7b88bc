"""Accounting as real processes: two workers on one queue keep every balance right, and the
scheduler killed in the middle of a close finishes it after a restart, paying each popug once."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from accounting import domain
from accounting.models import inbox, payouts
from ates import clock
from tests.conftest import eventually
from tests.integration.accounting_fixtures import (
    AccountingDb,
    TrackerStory,
    accounting_db,  # noqa: F401 - a fixture
    expected_ledger,
    ledger_entries,
    new_id,
    task_assigned,
    task_completed,
    unbelieved_completions,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 5_000


@pytest.fixture
def db(tmp_path):
    found = AccountingDb(f"sqlite:///{tmp_path / 'accounting.db'}")
    yield found
    found.dispose()


def environment(db, tmp_path, **more) -> dict:
    return {
        **os.environ,
        "ACCOUNTING_DATABASE_URL": db.url,
        "ATES_VAR_DIR": str(tmp_path),
        "ATES_TIMEZONE": "UTC",
        "ATES_SMTP_HOST": "127.0.0.1",
        "ATES_SMTP_PORT": "9",
        **more,
    }  # no SMTP server: mail just waits


def start(module: str, env: dict, log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def applied(db) -> int:
    with db.uow.read() as session:
        return session.scalar(select(func.count()).select_from(inbox))


class InvariantWatch:
    """Reads sum(balances) and sum(transactions) in one snapshot, again and again, while workers write."""

    def __init__(self, db):
        self.db, self.checks, self.broken = db, 0, []
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stopping.is_set():
            balances, transactions = self.db.sums()
            if balances != transactions:
                self.broken.append((balances, transactions))
            self.checks += 1
            self._stopping.wait(0.01)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self._stopping.set()
        self.thread.join(timeout=10)


@pytest.mark.broker
def test_two_workers_on_one_queue_keep_every_balance_right(accounting_db, tmp_path, broker):
    db = accounting_db
    story = TrackerStory.told(tasks=1_000, popugs=25, seed=3)
    published = story.shuffled_with_duplicates(seed=4, duplicates=300)[:EVENTS]
    env = environment(db, tmp_path, **broker.env(), ATES_RETRY_DELAYS_MS="200,500,1000,2000")
    assert (
        subprocess.run(
            [sys.executable, "-m", "accounting.worker", "declare"], cwd=ROOT, env=env
        ).returncode
        == 0
    )
    # The whole stream is in the queue before a worker reads it: a completion that comes before its
    # assignment goes back behind it. Published while the workers ran, a slow publisher (a busy
    # machine) could hold an assignment back longer than a completion's five tries, and the
    # completion would die though it is believable.
    broker.publish_events(published)
    watch = InvariantWatch(db).__enter__()  # watching from before the first write
    workers = [start("accounting.worker", env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    try:

        def consumers():
            with broker.channel() as channel:
                return (
                    channel.queue_declare("accounting.tracker", passive=True).method.consumer_count
                    == 2
                )

        eventually(consumers, timeout=30, message="both workers to consume accounting.tracker")
        # the cut stream lacks some tasks' latest assignment: those completions retry, then die
        unbelieved = unbelieved_completions(published)
        unique = len({event.id for event in published} - unbelieved)
        eventually(
            lambda: applied(db) == unique,
            timeout=180,  # SQLite under a busy machine: slow, never wrong
            interval=0.2,
            message=f"{unique} events applied",
        )
        dead = sum(
            event.id in unbelieved for event in published
        )  # a duplicate dies as a copy of its own
        eventually(
            lambda: broker.message_count("accounting.tracker.dead") == dead,
            timeout=30,
            message=f"{dead} unbelieved completions dead",
        )
        watch.__exit__()
        assert watch.broken == [] and watch.checks > 10
        balances, entries = expected_ledger(published, db.prices())
        assert db.balances() == {
            account: domain.cents(amount) for account, amount in balances.items()
        }
        assert ledger_entries(db) == entries
        assert len(db.published("task.priced")) == len(
            db.prices()
        )  # each task priced once, by one worker
        assert all(
            properties.headers["ates-reason"].startswith("gave up after 5 tries: not yet: task ")
            for properties, _ in broker.take_all("accounting.tracker.dead")
        )
        assert all(worker.poll() is None for worker in workers)
    finally:
        watch.__exit__()
        assert [stop(worker) for worker in workers] == [0, 0]
    # Two workers lock balances in different orders: a deadlock or a busy database is met by
    # applying the event again (ates.bus.inbox), never reported as a failure.
    lines = [
        line for n in (1, 2) for line in (tmp_path / f"worker-{n}.log").read_text().splitlines()
    ]
    assert [line for line in lines if '"level": "ERROR"' in line or "Traceback" in line] == []
    print(
        f"lock conflicts met and applied again: {sum('applying it again' in line for line in lines)}"
    )


def test_the_scheduler_killed_between_payouts_finishes_the_close_after_a_restart(
    db, tmp_path, monkeypatch
):
    monkeypatch.setattr(
        domain, "draw_price", lambda *args: domain.Price(Decimal("10.00"), Decimal("25.00"))
    )
    yesterday = domain.local_date(clock.utcnow(), ZoneInfo("UTC")) - timedelta(days=1)
    db.open_day(yesterday)
    popugs = [new_id() for _ in range(1_000)]
    for start_at in range(0, len(popugs), 250):
        events = []
        for popug in popugs[start_at : start_at + 250]:
            task = new_id()
            events += [task_assigned(task, popug), task_completed(task, popug)]
        db.apply(*events)
    env = environment(db, tmp_path, ATES_SCHEDULER_INTERVAL_S="0.2")

    def paid() -> int:
        with db.uow.read() as session:
            return session.scalar(select(func.count()).select_from(payouts))

    scheduler = start("accounting.scheduler", env, tmp_path / "scheduler.log")
    try:
        eventually(
            lambda: paid() >= 100, timeout=60, interval=0.01, message="the close to be under way"
        )
    finally:
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
    killed_at = paid()
    assert 0 < killed_at < len(popugs), "the kill should land between two payouts"
    assert db.days()[yesterday] == "closing"
    scheduler = start("accounting.scheduler", env, tmp_path / "scheduler.log")
    try:
        eventually(
            lambda: db.days()[yesterday] == "closed",
            timeout=60,
            message="the resumed close to finish",
        )
    finally:
        assert stop(scheduler) == 0
    by_popug = {payout["account_id"]: payout["amount"] for payout in db.payouts()}
    assert len(db.payouts()) == len(by_popug) == len(popugs)
    assert set(by_popug.values()) == {Decimal("15.00")} and set(db.balances().values()) == {
        Decimal("0.00")
    }
    assert len(db.published("payout.sent")) == len(popugs)
    assert db.published("billing_day.closed") == [
        {
            "billing_date": yesterday.isoformat(),
            "payouts": 1_000,
            "total_paid": "15000.00",
            "management_income": "-15000.00",
        }
    ]
    assert db.sums()[0] == db.sums()[1] == Decimal("0.00")
