"""Analytics' rules, pure: days in a time zone, the most expensive task and its tie-break,
management income, the presets and ranges, and Jira ids in old titles."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from analytics import domain
from analytics.domain import CompletedTask

TODAY = date(2026, 3, 31)


def task(task_id: str, reward: int, hour: int) -> CompletedTask:
    return CompletedTask(task_id, Decimal(reward), datetime(2026, 3, 1, hour, tzinfo=UTC))


def test_a_day_is_the_calendar_day_in_the_company_time_zone():
    moment = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    assert domain.day_of(moment, ZoneInfo("UTC")) == date(2026, 3, 1)
    assert domain.day_of(moment, ZoneInfo("Europe/Moscow")) == date(2026, 3, 2)
    assert domain.day_of(moment, ZoneInfo("America/New_York")) == date(2026, 3, 1)


def test_the_highest_reward_wins():
    assert (
        domain.most_expensive([task("a", 23, 9), task("b", 38, 10), task("c", 28, 11)]).task_id
        == "b"
    )


def test_a_tie_goes_to_the_earlier_completion_then_the_smaller_task_id_in_any_order():
    tied = [task("c", 30, 9), task("a", 30, 11), task("b", 30, 11), task("d", 20, 8)]
    for order in itertools.permutations(tied):
        assert domain.most_expensive(order).task_id == "c"
    for order in itertools.permutations(tied[1:]):
        assert domain.most_expensive(order).task_id == "a"


def test_a_range_without_completions_has_no_most_expensive_task():
    assert domain.most_expensive([None, None]) is None


@pytest.mark.parametrize(
    "kind, amount, income",
    [
        ("assign_fee", "-12.00", "12.00"),
        ("completion_reward", "31.00", "-31.00"),
        ("payout", "-57.00", "0.00"),
    ],
)
def test_popugs_losses_are_management_income_and_payouts_are_not(kind, amount, income):
    assert domain.management_income(kind, Decimal(amount)) == Decimal(income)


@pytest.mark.parametrize(
    "period, first",
    [("day", date(2026, 3, 31)), ("week", date(2026, 3, 25)), ("month", date(2026, 3, 2))],
)
def test_presets_end_today_and_include_it(period, first):
    start, end = domain.period_range(period, TODAY)
    assert (start, end) == (first, TODAY)
    assert len(domain.days_in(start, end)) == {"day": 1, "week": 7, "month": 30}[period]


@pytest.mark.parametrize(
    "text", ["2026-3-1", "20260301", "2026-02-30", "2026-W01-1", "", "yesterday", None]
)
def test_only_a_real_yyyy_mm_dd_date_is_a_date(text):
    with pytest.raises(domain.InvalidQuery):
        domain.parse_day(text, "date")


def test_a_range_runs_forwards_and_covers_at_most_366_days():
    assert domain.checked_range(date(2024, 1, 1), date(2024, 12, 31)) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    with pytest.raises(domain.InvalidQuery, match="after"):
        domain.checked_range(date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(domain.InvalidQuery, match="at most 366"):
        domain.checked_range(date(2024, 1, 1), date(2025, 1, 1))
    with pytest.raises(domain.InvalidQuery, match="period"):
        domain.period_range("year", TODAY)
