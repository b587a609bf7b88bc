"""Events a notifier hears on a small working day, and the notices and mails they must give,
written down here from the story itself (not from the notifier's code)."""

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ates.bus import Event, Inbox
from notifier.handlers import handlers
from notifier.models import inbox
from tests.analytics_events import (
    billing_day_closed,
    payout_sent,
    received,
    task_completed,
    task_created_v2,
    task_priced,
    transaction_applied,
)
from tests.handed_in import handed_in

DAY = date(2026, 12, 1)
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POPUGS = ("kesha", "polly", "rio", "zazu")


def account_event(
    event_type: str, account_id: str, username: str, version: int = 1, **changes
) -> Event:
    data = {"account_id": account_id, "version": version}
    if event_type in ("account.created", "account.updated"):
        data |= {
            "username": username,
            "email": f"{username}@uberpopug.example",
            "full_name": username.capitalize(),
            "role": "developer",
            "active": True,
        }
    data |= changes
    return received(event_type, 1, "/auth", data)


def assigned(task_id, assignee, previous, at, job=None) -> Event:
    return received(
        "task.assigned",
        1,
        "/tracker",
        {
            "task_id": task_id,
            "assignee_id": assignee,
            "previous_assignee_id": previous,
            "assigned_at": at,
            "reassignment_id": job,
        },
        time=at,
    )


@dataclass
class Story:
    ids: dict[str, str]  # popug -> account id
    events: list[Event] = field(default_factory=list)
    notices: Counter = field(default_factory=Counter)  # (popug, kind, what) expected
    mails: Counter = field(default_factory=Counter)  # (address, subject) expected


def working_day() -> Story:
    """Four popugs, four tasks, one completed, one reassignment job, the day closed and paid."""
    ids = {name: str(uuid.uuid4()) for name in POPUGS}
    story = Story(ids)
    story.events += [account_event("account.created", ids[name], name) for name in POPUGS]
    fee, reward = Decimal("12.00"), Decimal("31.00")
    balance = dict.fromkeys(POPUGS, Decimal("0.00"))
    at = START
    tasks = {}
    labels = {}

    def charge(name, kind, amount, task_id):
        nonlocal at
        at += timedelta(seconds=1)
        balance[name] += amount
        story.events.append(
            transaction_applied(ids[name], kind, amount, balance[name], task_id, DAY, at)
        )

    for number, name in enumerate(POPUGS, start=1):
        task_id = str(uuid.uuid4())
        tasks[name] = task_id
        jira, title = f"UBERPOP-{number}", f"Task {number} of {name}"
        labels[task_id] = f"{jira} {title}"
        at += timedelta(seconds=1)
        story.events += [
            task_created_v2(task_id, title, jira, at, ids[name]),
            assigned(task_id, ids[name], None, at),
            task_priced(task_id, fee, reward, at),
        ]
        charge(name, "assign_fee", -fee, task_id)
        story.notices[(name, "task_assigned", task_id)] += 1
        story.mails[(f"{name}@uberpopug.example", f"New task for you: {labels[task_id]}")] += 1
    # kesha completes its task
    at += timedelta(seconds=1)
    story.events.append(task_completed(tasks["kesha"], ids["kesha"], at))
    charge("kesha", "completion_reward", reward, tasks["kesha"])
    story.notices[("kesha", "task_completed", tasks["kesha"])] += 1
    story.mails[
        (
            "kesha@uberpopug.example",
            f"Completed: {labels[tasks['kesha']]}, you earned ${reward}",
        )
    ] += 1
    # one reassignment job: polly -> kesha, rio -> polly, zazu -> rio
    job = str(uuid.uuid4())
    moves = [("polly", "kesha"), ("rio", "polly"), ("zazu", "rio")]
    for previous, assignee in moves:
        at += timedelta(seconds=1)
        story.events.append(assigned(tasks[previous], ids[assignee], ids[previous], at, job))
        charge(assignee, "assign_fee", -fee, tasks[previous])
    headlines = {
        "kesha": "you got 1 task",
        "polly": "you got 1 task, lost 1 task",
        "rio": "you got 1 task, lost 1 task",
        "zazu": "you lost 1 task",
    }
    for name, headline in headlines.items():
        story.notices[(name, "reassignment", job)] += 1
        story.mails[(f"{name}@uberpopug.example", f"Reassignment: {headline}")] += 1
    # the day closes: positive balances are paid out
    paid = []
    for name in POPUGS:
        if balance[name] > 0:
            amount = balance[name]
            story.events.append(payout_sent(ids[name], amount, DAY, at))
            charge(name, "payout", -amount, None)
            paid.append(amount)
    at += timedelta(seconds=1)
    story.events.append(
        billing_day_closed(DAY, len(paid), sum(paid, Decimal("0.00")), Decimal("0"), at)
    )
    for name in POPUGS:
        story.notices[(name, "day_closed", DAY.isoformat())] += 1
        story.mails[
            (f"{name}@uberpopug.example", day_subject(balance[name], paid_out(story, ids[name])))
        ] += 1
    return story


def paid_out(story: Story, account_id: str) -> Decimal:
    return sum(
        (
            -Decimal(event.data["amount"])
            for event in story.events
            if event.type == "transaction.applied"
            and event.data["account_id"] == account_id
            and event.data["kind"] == "payout"
        ),
        Decimal("0.00"),
    )


def day_subject(balance: Decimal, paid: Decimal) -> str:
    def dollars(amount):
        return f"\u2212${-amount:.2f}" if amount < 0 else f"${amount:.2f}"

    return (
        f"Your day {DAY.isoformat()}: balance carried {dollars(balance)}, paid out {dollars(paid)}"
    )


def shuffled_with_duplicates(events: list[Event], seed: int) -> list[Event]:
    rng = random.Random(seed)
    copies = [event for event in events for _ in range(rng.choice((1, 1, 2, 3)))]
    rng.shuffle(copies)
    return copies


def notifier_inbox(uow) -> Inbox:
    return Inbox(inbox, uow, handlers, handed_in("notifier"))


def deliver(uow, events: list[Event], rounds: int = 12) -> int:
    """Apply events through the notifier's inbox as its consumer does; "not yet" comes round again.
    Returns how many deliveries went round the retry path."""
    box = notifier_inbox(uow)
    pending, retried = list(events), 0
    for _ in range(rounds):
        again = []
        for start in range(0, len(pending), 50):
            batch = pending[start : start + 50]
            for event, outcome in zip(batch, box.apply(batch), strict=True):
                assert outcome.action in ("ack", "retry"), (event.type, outcome)
                if outcome.action == "retry":
                    again.append(event)
        if not again:
            return retried
        retried += len(again)
        pending = again
    raise AssertionError(f"still not applied after {rounds} rounds: {[e.type for e in pending]}")
