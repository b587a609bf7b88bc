"""Analytics' rules, free of I/O: what day a moment belongs to, which task is the most expensive,
what counts as management income and which days a period covers."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ates.rules import RuleBroken

DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INCOME_KINDS = frozenset({"assign_fee", "completion_reward"})  # a payout is not income
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}  # each ends today, today included
LONGEST_RANGE_DAYS = 366


class InvalidQuery(RuleBroken):
    """A question the dashboard cannot answer as asked (a malformed date, a backwards range...)."""

    code = "invalid_query"


@dataclass(frozen=True)
class CompletedTask:
    """A completed task competing to be the most expensive of its day, or of a range."""

    task_id: str
    reward: Decimal
    completed_at: datetime
    jira_id: str | None = None  # None also while the task's details have not arrived
    title: str | None = None


def day_of(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day, in the company's time zone, that a UTC-aware moment falls on."""
    return moment.astimezone(zone).date()


def ranking(task: CompletedTask) -> tuple:
    """Sort key: the higher reward wins; on a tie the earlier completion, then the smaller task id.

    A total order, so the winner never depends on the order the completions arrived in.
    """
    return (-task.reward, task.completed_at, task.task_id)


def most_expensive(tasks) -> CompletedTask | None:
    """The most expensive of some completions (for a range: of its days' winners)."""
    found = [task for task in tasks if task is not None]
    return min(found, key=ranking) if found else None


def management_income(kind: str, amount: Decimal) -> Decimal:
    """What one transaction adds to management income: what the popugs lost, never a payout."""
    return -amount if kind in INCOME_KINDS else Decimal("0.00")


def parse_day(text: str, name: str) -> date:
    if not isinstance(text, str) or not DAY.fullmatch(text):
        raise InvalidQuery(f"{name} must be a date such as 2026-03-01, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidQuery(f"{name}: there is no such day as {text}") from None


def period_range(period: str, today: date) -> tuple[date, date]:
    """The days of a preset: day is today, week the last 7 days and month the last 30, today included."""
    if period not in PERIOD_DAYS:
        raise InvalidQuery(f"period must be one of {', '.join(PERIOD_DAYS)}, got {period!r}")
    return today - timedelta(days=PERIOD_DAYS[period] - 1), today


def checked_range(first: date, last: date) -> tuple[date, date]:
    if first > last:
        raise InvalidQuery(f"from ({first}) is after to ({last})")
    days = (last - first).days + 1
    if days > LONGEST_RANGE_DAYS:
        raise InvalidQuery(
            f"a range covers at most {LONGEST_RANGE_DAYS} days; {first}..{last} has {days}"
        )
    return first, last


def days_in(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
