"""Events as the tracker and accounting publish them, for analytics' tests: builders, the seed
002 story, a generated month with the figures expected of it (computed here, from the generated
data, without analytics' code), and the means to deliver events through analytics' inbox."""

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import sleep

from sqlalchemy import select

from analytics.handlers import handlers
from analytics.models import READ_MODELS, inbox
from ates.bus import Event, Inbox
from tests.handed_in import handed_in


def received(*args, **kwargs) -> Event:
    """An event as a consumer gets it: through its message, so money and times are wire strings."""
    return Event.from_message(Event(*args, **kwargs).to_message())


def task_created_v2(
    task_id: str, title: str, jira_id: str | None, at: datetime, assignee_id: str
) -> Event:
    return received(
        "task.created",
        2,
        "/tracker",
        {
            "task_id": task_id,
            "jira_id": jira_id,
            "title": title,
            "description": "",
            "status": "open",
            "assignee_id": assignee_id,
            "created_at": at,
            "completed_at": None,
            "version": 1,
        },
        time=at,
    )


def task_created_v1(
    task_id: str, title: str, jira_id: str | None, at: datetime, assignee_id: str
) -> Event:
    return received(
        "task.created",
        1,
        "/tracker",
        {
            "task_id": task_id,
            "title": f"[{jira_id}] — {title}" if jira_id else title,
            "description": "",
            "status": "open",
            "assignee_id": assignee_id,
            "created_at": at,
        },
        time=at,
    )


def task_updated(
    task_id: str,
    title: str,
    jira_id: str | None,
    created_at: datetime,
    assignee_id: str,
    version: int,
    completed_at: datetime | None = None,
) -> Event:
    return received(
        "task.updated",
        2,
        "/tracker",
        {
            "task_id": task_id,
            "jira_id": jira_id,
            "title": title,
            "description": "",
            "status": "done" if completed_at else "open",
            "assignee_id": assignee_id,
            "created_at": created_at,
            "completed_at": completed_at,
            "version": version,
        },
        time=completed_at or created_at,
    )


def task_assigned(task_id: str, assignee_id: str, previous: str | None, at: datetime) -> Event:
    return received(
        "task.assigned",
        1,
        "/tracker",
        {
            "task_id": task_id,
            "assignee_id": assignee_id,
            "previous_assignee_id": previous,
            "assigned_at": at,
            "reassignment_id": str(uuid.uuid4()) if previous else None,
        },
        time=at,
    )


def task_completed(task_id: str, assignee_id: str, at: datetime) -> Event:
    return received(
        "task.completed",
        1,
        "/tracker",
        {"task_id": task_id, "assignee_id": assignee_id, "completed_at": at},
        time=at,
    )


def task_priced(task_id: str, assign_fee: Decimal, reward: Decimal, at: datetime) -> Event:
    return received(
        "task.priced",
        1,
        "/accounting",
        {"task_id": task_id, "assign_fee": assign_fee, "completion_reward": reward},
        time=at,
    )


def transaction_applied(
    account_id: str,
    kind: str,
    amount: Decimal,
    balance_after: Decimal,
    task_id: str | None,
    billing_date: date,
    at: datetime,
) -> Event:
    return received(
        "transaction.applied",
        1,
        "/accounting",
        {
            "transaction_id": str(uuid.uuid4()),
            "account_id": account_id,
            "kind": kind,
            "amount": amount,
            "balance_after": balance_after,
            "task_id": task_id,
            "billing_date": billing_date,
            "applied_at": at,
        },
        time=at,
    )


def payout_sent(account_id: str, amount: Decimal, billing_date: date, at: datetime) -> Event:
    return received(
        "payout.sent",
        1,
        "/accounting",
        {
            "payout_id": str(uuid.uuid4()),
            "account_id": account_id,
            "amount": amount,
            "billing_date": billing_date,
        },
        time=at,
    )


def billing_day_closed(
    billing_date: date, payouts: int, total_paid: Decimal, income: Decimal, at: datetime
) -> Event:
    return received(
        "billing_day.closed",
        1,
        "/accounting",
        {
            "billing_date": billing_date,
            "payouts": payouts,
            "total_paid": total_paid,
            "management_income": income,
        },
        time=at,
    )


@dataclass
class Story:
    """What the system published, in order, and what the dashboard must show for it."""

    events: list[Event] = field(default_factory=list)
    first_day: date | None = None
    last_day: date | None = None
    top_reward_by_day: dict[date, Decimal] = field(default_factory=dict)
    top_task_by_day: dict[date, str] = field(default_factory=dict)
    top_task_of_range: str | None = None
    income_by_day: dict[date, Decimal] = field(default_factory=dict)
    negative_balances: int = 0
    tasks: dict[str, dict] = field(
        default_factory=dict
    )  # task_id -> title, jira_id, reward, completed_at


class Accounting:
    """A stand-in for the accounting service's bookkeeping: it writes the events accounting would."""

    def __init__(self, story: Story):
        self.story = story
        self.balances: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
        self.income: dict[date, Decimal] = defaultdict(lambda: Decimal("0.00"))

    def apply(
        self, account_id: str, kind: str, amount: Decimal, task_id: str | None, at: datetime
    ) -> None:
        self.balances[account_id] += amount
        if kind != "payout":
            self.income[at.date()] -= amount
        self.story.events.append(
            transaction_applied(
                account_id, kind, amount, self.balances[account_id], task_id, at.date(), at
            )
        )

    def close_day(self, day: date) -> None:
        at = datetime.combine(day, time(23, 59, 59), UTC)
        paid = []
        for account_id, balance in sorted(self.balances.items()):
            if balance > 0:
                self.apply(account_id, "payout", -balance, None, at)
                self.story.events.append(payout_sent(account_id, balance, day, at))
                paid.append(balance)
        self.story.events.append(
            billing_day_closed(day, len(paid), sum(paid, Decimal("0.00")), self.income[day], at)
        )


def seed_002_story() -> Story:
    """Seed 002: completed on 01.03 with rewards up to 23, on 02.03 up to 38, on 03.03 up to 28."""
    rewards = {
        date(2026, 3, 1): [20, 23, 21],
        date(2026, 3, 2): [25, 38, 31],
        date(2026, 3, 3): [28, 22, 27],
    }
    return _story_of(rewards, random.Random(2))


def generated_month(seed: int, days: int = 30, tasks_per_day: int = 8, popugs: int = 6) -> Story:
    """A month of random work: random prices, completions spread over the days, reassignments, payouts."""
    rng = random.Random(seed)
    first = date(2026, 3, 1)
    rewards = {
        first + timedelta(days=n): [
            rng.randint(20, 40) for _ in range(rng.randint(0, tasks_per_day))
        ]
        for n in range(days)
    }
    return _story_of(rewards, rng, popugs, open_tasks=days // 2)


def _story_of(
    rewards_by_day: dict[date, list[int]], rng: random.Random, popugs: int = 4, open_tasks: int = 0
) -> Story:
    story = Story(first_day=min(rewards_by_day), last_day=max(rewards_by_day))
    accounting = Accounting(story)
    accounts = [str(uuid.uuid4()) for _ in range(popugs)]
    completions_by_day = defaultdict(list)
    for day, rewards in sorted(rewards_by_day.items()):
        for reward in rewards:
            completed_at = _moment(rng, day, earliest=12)
            created_at = completed_at - timedelta(
                hours=rng.randint(1, 11), seconds=rng.randint(0, 59)
            )
            task_id = _work_on_a_task(
                story, accounting, rng, accounts, Decimal(reward), created_at, completed_at
            )
            completions_by_day[day].append((Decimal(reward), completed_at, task_id))
        for _ in range(rng.randint(0, 1) if open_tasks else 0):  # work that is never finished
            _work_on_a_task(
                story,
                accounting,
                rng,
                accounts,
                Decimal(rng.randint(20, 40)),
                _moment(rng, day),
                None,
            )
        accounting.close_day(day)
    _expect(story, completions_by_day, accounting)
    return story


def _work_on_a_task(story, accounting, rng, accounts, reward, created_at, completed_at) -> str:
    task_id, title = str(uuid.uuid4()), f"Task {len(story.tasks) + 1}"
    jira_id = f"UBERPOP-{len(story.tasks) + 1}" if rng.random() < 0.5 else None
    fee = Decimal(rng.randint(10, 20))
    assignee = rng.choice(accounts)
    story.events += [
        task_created_v2(task_id, title, jira_id, created_at, assignee),
        task_created_v1(task_id, title, jira_id, created_at, assignee),
        task_assigned(task_id, assignee, None, created_at),
        task_priced(task_id, fee, reward, created_at + timedelta(milliseconds=5)),
    ]
    accounting.apply(assignee, "assign_fee", -fee, task_id, created_at + timedelta(milliseconds=6))
    version = 1
    if rng.random() < 0.3:  # a reassignment before the work is done
        previous, assignee, version = assignee, rng.choice(accounts), version + 1
        moment = created_at + timedelta(minutes=30)
        story.events += [
            task_assigned(task_id, assignee, previous, moment),
            task_updated(task_id, title, jira_id, created_at, assignee, version),
        ]
        accounting.apply(assignee, "assign_fee", -fee, task_id, moment + timedelta(milliseconds=6))
    story.tasks[task_id] = {
        "title": title,
        "jira_id": jira_id,
        "reward": reward,
        "completed_at": completed_at,
    }
    if completed_at is not None:
        story.events += [
            task_completed(task_id, assignee, completed_at),
            task_updated(task_id, title, jira_id, created_at, assignee, version + 1, completed_at),
        ]
        accounting.apply(
            assignee, "completion_reward", reward, task_id, completed_at + timedelta(milliseconds=6)
        )
    return task_id


def _moment(rng: random.Random, day: date, earliest: int = 0) -> datetime:
    return datetime.combine(
        day, time(rng.randint(earliest, 22), rng.randint(0, 59), rng.randint(0, 59)), UTC
    )


def _expect(story: Story, completions_by_day, accounting: Accounting) -> None:
    """The dashboard's figures, straight from the generated data (ties: earlier completion, then
    smaller id)."""
    for day, found in completions_by_day.items():
        if found:
            reward, _, task_id = sorted(found, key=lambda c: (-c[0], c[1], c[2]))[0]
            story.top_reward_by_day[day], story.top_task_by_day[day] = reward, task_id
    every = [c for found in completions_by_day.values() for c in found]
    story.top_task_of_range = (
        sorted(every, key=lambda c: (-c[0], c[1], c[2]))[0][2] if every else None
    )
    story.income_by_day = dict(accounting.income)
    story.negative_balances = sum(1 for balance in accounting.balances.values() if balance < 0)


def shuffled_with_duplicates(events: list[Event], seed: int) -> list[Event]:
    """The events in a random order, some of them twice or three times, as a broker may deliver them."""
    rng = random.Random(seed)
    copies = [event for event in events for _ in range(rng.choice((1, 1, 2, 3)))]
    rng.shuffle(copies)
    return copies


def analytics_inbox(uow, zone: str = "UTC") -> Inbox:
    """Analytics' inbox as its worker builds it, with its days in `zone` (ATES_TIMEZONE)."""
    return Inbox(inbox, uow, handlers, handed_in("analytics", zone))


def deliver(
    uow,
    events: list[Event],
    batch_size: int = 40,
    rounds: int = 10,
    pause: float = 0.0,
    zone: str = "UTC",
) -> int:
    """Apply events through analytics' inbox as the consumer does; what is "not yet" comes round again.

    `pause` seconds pass between batches, as between a worker's deliveries. Returns how many
    deliveries were sent round the retry path.
    """
    box = analytics_inbox(uow, zone)
    pending, retried = list(events), 0
    for _ in range(rounds):
        again = []
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            for event, outcome in zip(batch, box.apply(batch), strict=True):
                assert outcome.action in ("ack", "retry"), (event, outcome)
                if outcome.action == "retry":
                    again.append(event)
            sleep(pause)
        if not again:
            return retried
        retried += len(again)
        pending = again
    raise AssertionError(
        f"{len(pending)} events were still not applied after {rounds} rounds: {pending[:3]}"
    )


def read_models(uow) -> dict[str, list[tuple]]:
    """Every read model's rows, sorted (here, not by the database's collation, so databases compare)."""
    with uow.read() as session:
        return {
            table.name: sorted(tuple(row) for row in session.execute(select(table)))
            for table in READ_MODELS
        }
