"""Accounting's rules, free of I/O: prices, the ledger's arithmetic, billing days, who may see what."""

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ates.money import CENT
from ates.rules import RuleBroken

FEE_DOLLARS = (10, 20)  # a uniform integer number of dollars, both ends included
REWARD_DOLLARS = (20, 40)
ASSIGN_FEE, COMPLETION_REWARD, PAYOUT = "assign_fee", "completion_reward", "payout"
INCOME_KINDS = (ASSIGN_FEE, COMPLETION_REWARD)  # payouts are not income
OPEN, CLOSING, CLOSED = "open", "closing", "closed"
SEE_EVERYONE = frozenset({"admin", "accountant"})
MAX_REPORT_DAYS = 366
ZERO = Decimal("0.00")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SYSTEM_RANDOM = random.SystemRandom()


class InvalidInput(RuleBroken):
    code = "invalid_input"


class DayNotOpenYet(RuleBroken):
    code, status = "not_open_yet", 409


class NoSuchBillingDay(RuleBroken):
    code, status = "not_found", 404


class NotPricedYet(RuleBroken):
    code, status = "not_found", 404


@dataclass(frozen=True)
class Price:
    assign_fee: Decimal
    completion_reward: Decimal


def draw_price(rng: random.Random = _SYSTEM_RANDOM) -> Price:
    """A new task's price: fee and reward each a uniform whole number of dollars in its range."""
    return Price(dollars(rng.randint(*FEE_DOLLARS)), dollars(rng.randint(*REWARD_DOLLARS)))


def dollars(whole: int) -> Decimal:
    return Decimal(whole).quantize(CENT)


def cents(amount: Decimal) -> Decimal:
    """Two places, and never "-0.00" (adding a positive zero drops the sign of a zero)."""
    return (amount + ZERO).quantize(CENT)


def fee_debit(price: Price) -> Decimal:
    return cents(-price.assign_fee)


def reward_credit(price: Price) -> Decimal:
    return cents(price.completion_reward)


def payout_amount(balance: Decimal) -> Decimal | None:
    """What closing the day pays out of this balance: all of it when positive, nothing otherwise."""
    return cents(balance) if balance > 0 else None


def management_income(income_amounts: Iterable[Decimal]) -> Decimal:
    """−(sum of a day's assign_fee and completion_reward amounts): fees are income, rewards cost."""
    return cents(-sum(income_amounts, ZERO))


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day a UTC moment falls on where the business keeps its days."""
    return moment.astimezone(zone).date()


def next_open_day(closed: date, today: date) -> date:
    """The day opened when `closed` closes: the next one, or today when days were missed."""
    return max(closed + timedelta(days=1), today)


def is_due(open_day: date, today: date) -> bool:
    """The scheduler closes the open day once it is in the past."""
    return open_day < today


def days_before(day: date, count: int) -> date:
    """`count` days earlier, or the first day of the calendar when there are not that many."""
    return day - timedelta(days=count) if (day - date.min).days >= count else date.min


def parse_day(text: str, name: str = "date") -> date:
    if not isinstance(text, str) or not DAY.fullmatch(text):
        raise InvalidInput(f"{name} must be a day such as 2026-03-01, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} {text!r} is not a day of the calendar") from None


def report_days(first: date, last: date) -> list[date]:
    """Every day from first to last, both included; a range is at most MAX_REPORT_DAYS long."""
    if first > last:
        raise InvalidInput(f"from ({first}) is after to ({last})")
    count = (last - first).days + 1
    if count > MAX_REPORT_DAYS:
        raise InvalidInput(f"the range has {count} days; at most {MAX_REPORT_DAYS} are allowed")
    return [first + timedelta(days=n) for n in range(count)]


def may_see_prices(role: str) -> bool:
    """Any task's fee and reward: who sees every balance, and the managers who hand tasks out."""
    return role in SEE_EVERYONE or role == "manager"


def may_see_everyone(role: str) -> bool:
    """Every account's balance and log, income by day, closing a day by hand."""
    return role in SEE_EVERYONE
