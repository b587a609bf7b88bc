"""The notifier's rules, free of the database: what each notice says, how a reassignment job's
moves are grouped per popug, and how a popug's day is summed up.

A notice keeps its facts (which task, which job, the day's figures); the words are made from the
facts and what the notifier knows of the tasks when the notice is shown or mailed, so a price that
arrives after the notice still appears in it. A mail goes out only when its words are complete
(`Wording.complete`): a notice never leaves with blanks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ates import money
from ates.rules import RuleBroken

TASK_ASSIGNED = "task_assigned"
REASSIGNMENT = "reassignment"
TASK_COMPLETED = "task_completed"
DAY_CLOSED = "day_closed"
KINDS = (TASK_ASSIGNED, REASSIGNMENT, TASK_COMPLETED, DAY_CLOSED)
TASK_KINDS = frozenset({TASK_ASSIGNED, REASSIGNMENT, TASK_COMPLETED})  # "task mail" in the settings
GOT, LOST = "got", "lost"
ZERO = Decimal("0.00")
DEFAULT_PAGE = 50
MAX_PAGE = 200
DEFAULT_TASK_MAIL = True  # a popug who never saved settings gets task mail


def is_mailed(kind: str, task_mail: bool | None) -> bool:
    """Whether a notice of `kind` is mailed to a popug whose task-mail setting is `task_mail`
    (None: never saved). The end-of-day notice always is."""
    return kind not in TASK_KINDS or (DEFAULT_TASK_MAIL if task_mail is None else task_mail)


def cents(amount) -> Decimal:
    """A stored amount as exact cents: 38 reads as 38.00."""
    return Decimal(amount).quantize(money.CENT)


class InvalidQuery(RuleBroken):
    code = "invalid_query"


class NoSuchNotice(RuleBroken):
    code = "not_found"
    status = 404


@dataclass(frozen=True)
class TaskDetails:
    """What the notifier knows of a task; the price is None until accounting has priced it."""

    task_id: str
    jira_id: str | None
    title: str | None
    assign_fee: Decimal | None = None
    completion_reward: Decimal | None = None

    @property
    def label(self) -> str:
        """How a person reads the task: "UBERPOP-42 Fix the beak"."""
        title = self.title or "(untitled)"
        return f"{self.jira_id} {title}" if self.jira_id else title

    @property
    def priced(self) -> bool:
        return self.assign_fee is not None and self.completion_reward is not None


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str
    complete: bool  # False: something it names is not known yet, so it is not mailed yet


def wording(
    kind: str, facts: Mapping, tasks: Mapping[str, TaskDetails], name: str | None
) -> Wording:
    """The words of a notice of `kind` with `facts`, for the popug called `name`."""
    hello = f"Hello {name or 'popug'},\n\n"
    bye = "\n\n— aTES, the Awesome Task Exchange System\n"
    if kind == TASK_ASSIGNED:
        task = _task(tasks, facts["task_id"])
        if task.priced:
            price = (
                f"Taking it cost you {_dollars(task.assign_fee)}; completing it earns you "
                f"{_dollars(task.completion_reward)}."
            )
        else:
            price = "Its fee and reward are being worked out by accounting."
        return Wording(
            f"New task for you: {task.label}",
            f"{hello}the task {task.label} is yours now. {price}{bye}",
            complete=task.title is not None and task.priced,
        )
    if kind == TASK_COMPLETED:
        task = _task(tasks, facts["task_id"])
        reward = _dollars(task.completion_reward) if task.priced else None
        return Wording(
            f"Completed: {task.label}" + (f", you earned {reward}" if reward else ""),
            f"{hello}you completed the task {task.label}"
            + (f" and earned {reward}." if reward else "; its reward is being worked out.")
            + bye,
            complete=task.title is not None and task.priced,
        )
    if kind == REASSIGNMENT:
        got = [_task(tasks, task_id) for task_id in facts["got"]]
        lost = [_task(tasks, task_id) for task_id in facts["lost"]]
        continued = " (continued)" if facts.get("part", 1) > 1 else ""
        lines = []
        for heading, listed in (("You got", got), ("You lost", lost)):
            if listed:
                lines.append(f"{heading}:")
                lines.extend(f"  - {task.label}" for task in sorted(listed, key=_by_label))
        return Wording(
            f"Reassignment{continued}: {reassignment_headline(len(got), len(lost))}",
            f"{hello}the tasks were shuffled{continued}: "
            f"{reassignment_headline(len(got), len(lost))}.\n\n" + "\n".join(lines) + bye,
            complete=all(task.title is not None for task in got + lost),
        )
    if kind == DAY_CLOSED:
        day = DaySummary.from_facts(facts)
        return Wording(
            f"Your day {day.billing_date.isoformat()}: "
            f"balance carried {_dollars(day.balance)}, paid out {_dollars(day.paid_out)}",
            f"{hello}the billing day {day.billing_date.isoformat()} is closed.\n\n"
            f"  earned:          {_dollars(day.earned)}\n"
            f"  paid in fees:    {_dollars(day.fees)}\n"
            f"  paid out:        {_dollars(day.paid_out)}\n"
            f"  balance carried: {_dollars(day.balance)}\n"
            + ("\nA negative balance carries over into the next day.\n" if day.balance < 0 else "")
            + bye.lstrip("\n"),
            complete=True,
        )
    raise ValueError(f"no wording for a notice of kind {kind!r}")


def reassignment_headline(got: int, lost: int) -> str:
    """ "you got 7 tasks, lost 3"; a side with nothing is left out."""
    parts = []
    if got:
        parts.append(f"got {_tasks(got)}")
    if lost:
        parts.append(f"lost {_tasks(lost)}")
    return "you " + ", ".join(parts) if parts else "nothing changed for you"


def group_changes(changes: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, list[str]]]:
    """(account_id, change, task_id) rows of one job → per popug, the tasks it got and lost."""
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: {GOT: [], LOST: []})
    for account_id, change, task_id in changes:
        grouped[account_id][change].append(task_id)
    return {account: {GOT: sorted(c[GOT]), LOST: sorted(c[LOST])} for account, c in grouped.items()}


def moves(
    task_id: str, assignee_id: str, previous_assignee_id: str | None
) -> list[tuple[str, str, str]]:
    """What one reassigned task means for the popugs at both ends: (account, change, task)."""
    if previous_assignee_id == assignee_id:  # it stayed where it was: news for nobody
        return []
    found = [(assignee_id, GOT, task_id)]
    if previous_assignee_id is not None:
        found.append((previous_assignee_id, LOST, task_id))
    return found


@dataclass(frozen=True)
class DaySummary:
    """One popug's billing day: earned, paid in fees (positive), paid out, the balance carried."""

    billing_date: date
    earned: Decimal = ZERO
    fees: Decimal = ZERO
    paid_out: Decimal = ZERO
    balance: Decimal = ZERO
    balance_at: datetime | None = None

    def with_transaction(
        self, kind: str, amount: Decimal, balance_after: Decimal, applied_at: datetime
    ) -> DaySummary:
        """This day with one more transaction; the balance is the latest transaction's."""
        earned, fees, paid_out = self.earned, self.fees, self.paid_out
        if kind == "completion_reward":
            earned += amount
        elif kind == "assign_fee":
            fees -= amount
        elif kind == "payout":
            paid_out -= amount
        else:
            raise ValueError(f"unknown transaction kind {kind!r}")
        latest = self.balance_at is None or applied_at >= self.balance_at
        return DaySummary(
            self.billing_date,
            earned,
            fees,
            paid_out,
            balance_after if latest else self.balance,
            applied_at if latest else self.balance_at,
        )

    def facts(self) -> dict:
        return {
            "billing_date": self.billing_date.isoformat(),
            "earned": money.to_wire(self.earned),
            "fees": money.to_wire(self.fees),
            "paid_out": money.to_wire(self.paid_out),
            "balance": money.to_wire(self.balance),
        }

    @classmethod
    def from_facts(cls, facts: Mapping) -> DaySummary:
        return cls(
            date.fromisoformat(facts["billing_date"]),
            earned=money.from_wire(facts["earned"]),
            fees=money.from_wire(facts["fees"]),
            paid_out=money.from_wire(facts["paid_out"]),
            balance=money.from_wire(facts["balance"]),
        )


def page_size(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise InvalidQuery(f"limit must be a whole number from 1 to {MAX_PAGE}, not {text!r}")
    return int(text)


def before_id(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InvalidQuery(f"before must be a notice number from a page's `next`, not {text!r}")
    return int(text)


def flag(text: str | None, name: str) -> bool:
    if text is None:
        return False
    if text.lower() not in ("true", "false", "1", "0"):
        raise InvalidQuery(f"{name} is true or false, not {text!r}")
    return text.lower() in ("true", "1")


def _task(tasks: Mapping[str, TaskDetails], task_id: str) -> TaskDetails:
    return tasks.get(task_id) or TaskDetails(task_id, None, None)


def _by_label(task: TaskDetails) -> str:
    return task.label


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _dollars(amount: Decimal | None) -> str:
    return money.display(amount) if amount is not None else "?"
