"""What accounting's integration tests share: a migrated accounting database with its inbox, the
tracker's and auth's events as accounting receives them, and the ledger a stream of them should give."""

import json
import random
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from accounting import domain
from accounting.handlers import handlers
from accounting.models import (
    balances,
    billing_days,
    inbox,
    outbox,
    payouts,
    tasks,
    transactions,
)
from ates import clock, migrations
from ates.bus import Event, Inbox
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.databases import postgres_database
from tests.handed_in import handed_in

ROOT = Path(__file__).resolve().parents[2]
# The server where PostgreSQL runs of these tests make their databases (bin/test makes sure it is there).


class AccountingDb:
    """A real database (SQLite file or PostgreSQL) at accounting's migrations' head, and the inbox the
    consumer applies events through."""

    def __init__(self, url: str):
        self.url = url
        migrations.upgrade(ROOT / "accounting" / "migrations", url)
        self.engine = make_engine(url)
        self.uow = UnitOfWork(self.engine)
        self.inbox = Inbox(inbox, self.uow, handlers, handed_in("accounting"))

    def apply(self, *events: Event) -> list[str]:
        """Through the inbox as the consumer hands them over: decoded from the wire, times as text."""
        received = [
            Event.from_message(json.loads(json.dumps(event.to_message()))) for event in events
        ]
        return [outcome.action for outcome in self.inbox.apply(received)]

    def balances(self) -> dict[str, Decimal]:
        with self.uow.read() as session:
            return {
                row.account_id: domain.cents(row.amount)
                for row in session.execute(select(balances))
            }

    def transactions(self, kind: str | None = None) -> list[dict]:
        query = select(transactions).order_by(transactions.c.id)
        if kind:
            query = query.where(transactions.c.kind == kind)
        with self.uow.read() as session:
            return [dict(row) for row in session.execute(query).mappings()]

    def prices(self) -> dict[str, domain.Price]:
        with self.uow.read() as session:
            return {
                row.task_id: domain.Price(
                    domain.cents(row.assign_fee), domain.cents(row.completion_reward)
                )
                for row in session.execute(select(tasks))
            }

    def sums(self) -> tuple[Decimal, Decimal]:
        """(sum of balances, sum of transactions), read in one statement: one snapshot on
        PostgreSQL too, whose READ COMMITTED gives each statement of a transaction its own."""
        both = select(
            select(func.coalesce(func.sum(balances.c.amount), 0)).scalar_subquery(),
            select(func.coalesce(func.sum(transactions.c.amount), 0)).scalar_subquery(),
        )
        with self.uow.read() as session:
            balance_total, transaction_total = session.execute(both).one()
        return domain.cents(Decimal(str(balance_total))), domain.cents(
            Decimal(str(transaction_total))
        )

    def published(self, event_type: str) -> list[dict]:
        with self.uow.read() as session:
            bodies = session.scalars(
                select(outbox.c.body).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
            )
            return [json.loads(body)["data"] for body in bodies]

    def payouts(self) -> list[dict]:
        with self.uow.read() as session:
            return [
                dict(row)
                for row in session.execute(select(payouts).order_by(payouts.c.paid_at)).mappings()
            ]

    def days(self) -> dict[date, str]:
        with self.uow.read() as session:
            return dict(
                session.execute(select(billing_days.c.billing_date, billing_days.c.status)).all()
            )

    def open_day(self, billing_date: date) -> None:
        """Start the books on a chosen day (as if accounting had opened it then)."""
        with self.uow.begin() as session:
            session.execute(
                insert(billing_days).values(
                    billing_date=billing_date, status=domain.OPEN, opened_at=clock.utcnow()
                )
            )

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def accounting_database(kind: str, tmp_path: Path):
    """A migrated accounting database: a SQLite file (development) or a PostgreSQL one (production)."""
    if kind == "sqlite":
        db = AccountingDb(f"sqlite:///{tmp_path / 'accounting.db'}")
        yield db
        db.dispose()
        return
    with postgres_database("test_accounting") as url:
        db = AccountingDb(url)
        yield db
        db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def accounting_db(request, tmp_path):
    """Every test that uses it runs twice: on SQLite's single writer (development) and on
    PostgreSQL's row locks (production), since the ledger must hold on both."""
    with accounting_database(request.param, tmp_path) as db:
        yield db


def new_id() -> str:
    return str(uuid.uuid4())


def account_created(
    account_id: str | None = None,
    role: str = "developer",
    version: int = 1,
    email: str | None = "popug@uberpopug.example",
    event_type: str = "account.created",
) -> Event:
    account_id = account_id or new_id()
    return Event(
        event_type,
        1,
        "/auth",
        {
            "account_id": account_id,
            "username": f"popug-{account_id[:6]}",
            "email": email,
            "full_name": f"Popug {account_id[:6]}",
            "role": role,
            "active": True,
            "version": version,
        },
    )


def task_created_v1(
    task_id: str, assignee_id: str, title: str = "[UBERPOP-42] — Change the green"
) -> Event:
    return Event(
        "task.created",
        1,
        "/tracker",
        {
            "task_id": task_id,
            "title": title,
            "description": "greener",
            "status": "open",
            "assignee_id": assignee_id,
            "created_at": clock.utcnow(),
        },
    )


def task_snapshot(
    task_id: str,
    assignee_id: str,
    version: int = 1,
    title: str = "Change the green",
    event_type: str = "task.created",
    done: bool = False,
) -> Event:
    now = clock.utcnow()
    return Event(
        event_type,
        2,
        "/tracker",
        {
            "task_id": task_id,
            "jira_id": "UBERPOP-42",
            "title": title,
            "description": "greener",
            "status": "done" if done else "open",
            "assignee_id": assignee_id,
            "created_at": now,
            "completed_at": now if done else None,
            "version": version,
        },
    )


def task_assigned(
    task_id: str,
    assignee_id: str,
    previous: str | None = None,
    reassignment_id: str | None = None,
    at: datetime | None = None,
) -> Event:
    return Event(
        "task.assigned",
        1,
        "/tracker",
        {
            "task_id": task_id,
            "assignee_id": assignee_id,
            "previous_assignee_id": previous,
            "assigned_at": at or clock.utcnow(),
            "reassignment_id": reassignment_id,
        },
    )


def task_completed(task_id: str, assignee_id: str) -> Event:
    return Event(
        "task.completed",
        1,
        "/tracker",
        {"task_id": task_id, "assignee_id": assignee_id, "completed_at": clock.utcnow()},
    )


@dataclass
class TrackerStory:
    """A tracker's worth of events in the order it published them: tasks created (v1 and v2) and
    assigned, reassigned now and then, some completed, each change with its snapshot."""

    popugs: list[str]
    events: list[Event] = field(default_factory=list)

    @classmethod
    def told(cls, tasks: int, popugs: int = 12, seed: int = 7) -> "TrackerStory":
        rng = random.Random(seed)
        story = cls([new_id() for _ in range(popugs)])
        began = clock.utcnow()

        def now():  # a millisecond a step: the assignments of a task are apart, as a tracker's are
            return began + timedelta(milliseconds=len(story.events))

        for n in range(tasks):
            task_id, assignee = new_id(), rng.choice(story.popugs)
            story.events += [
                task_snapshot(task_id, assignee, title=f"task {n}"),
                task_created_v1(task_id, assignee, title=f"[UBERPOP-{n}] — task {n}"),
                task_assigned(task_id, assignee, at=now()),
            ]
            version = 1
            for _ in range(rng.choice((0, 0, 1, 2))):
                previous, assignee, version = assignee, rng.choice(story.popugs), version + 1
                story.events += [
                    task_assigned(task_id, assignee, previous, new_id(), at=now()),
                    task_snapshot(task_id, assignee, version, f"task {n}", "task.updated"),
                ]
            if rng.random() < 0.6:
                story.events += [
                    task_completed(task_id, assignee),
                    task_snapshot(
                        task_id, assignee, version + 1, f"task {n}", "task.updated", done=True
                    ),
                ]
        return story

    def shuffled_with_duplicates(self, seed: int = 11, duplicates: int = 200) -> list[Event]:
        rng = random.Random(seed)
        mixed = self.events + rng.sample(self.events, min(duplicates, len(self.events)))
        rng.shuffle(mixed)
        return mixed


def unbelieved_completions(events: list[Event]) -> set[str]:
    """The ids of completions accounting must not believe: by someone who is not the task's assignee of
    record (its latest assignment among these events), or of a task never assigned among them."""
    of_record: dict[str, tuple] = {}
    for event in events:
        if event.type == "task.assigned":
            task_id = event.data["task_id"]
            if task_id not in of_record or of_record[task_id][0] <= event.data["assigned_at"]:
                of_record[task_id] = (event.data["assigned_at"], event.data["assignee_id"])
    return {
        event.id
        for event in events
        if event.type == "task.completed"
        and of_record.get(event.data["task_id"], (None, None))[1] != event.data["assignee_id"]
    }


def expected_ledger(
    events: list[Event], prices: dict[str, domain.Price]
) -> tuple[dict[str, Decimal], Counter]:
    """What the ledger must hold after these events, whatever their order: (balances, Counter of
    (account, kind, task, amount)). Each event id counts once; each task's reward is paid once, to
    its assignee of record."""
    seen, rewarded = unbelieved_completions(events), set()
    balance: dict[str, Decimal] = {}
    entries = Counter()
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        task_id, account = event.data.get("task_id"), event.data.get("assignee_id")
        if event.type == "task.assigned":
            amount, kind = -prices[task_id].assign_fee, domain.ASSIGN_FEE
        elif event.type == "task.completed" and task_id not in rewarded:
            rewarded.add(task_id)
            amount, kind = prices[task_id].completion_reward, domain.COMPLETION_REWARD
        else:
            continue
        balance[account] = balance.get(account, domain.ZERO) + amount
        entries[(account, kind, task_id, amount)] += 1
    return balance, entries


def ledger_entries(db: AccountingDb) -> Counter:
    return Counter(
        (t["account_id"], t["kind"], t["task_id"], domain.cents(t["amount"]))
        for t in db.transactions()
        if t["kind"] != domain.PAYOUT
    )
