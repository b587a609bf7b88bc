"""Accounting's rules, without I/O: prices, money, billing days, report ranges, the payout mail."""

import random
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounting import domain

DRAWS = 22_000
# chi-square critical values at p = 0.001: a fair source fails one run in a thousand
CHI_SQUARE_CRITICAL = {10: 29.588, 20: 45.315}


def chi_square(counts: Counter, low: int, high: int) -> float:
    expected = sum(counts.values()) / (high - low + 1)
    return sum((counts.get(value, 0) - expected) ** 2 / expected for value in range(low, high + 1))


def test_prices_are_whole_dollars_within_their_ranges_with_two_places():
    for _ in range(2_000):
        price = domain.draw_price()
        for amount, (low, high) in (
            (price.assign_fee, domain.FEE_DOLLARS),
            (price.completion_reward, domain.REWARD_DOLLARS),
        ):
            assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2
            assert low <= amount <= high and amount == amount.to_integral_value()


def test_prices_are_uniform_over_every_whole_dollar():
    draws = [domain.draw_price() for _ in range(DRAWS)]
    fees = Counter(int(price.assign_fee) for price in draws)
    rewards = Counter(int(price.completion_reward) for price in draws)
    assert set(fees) == set(range(10, 21)) and set(rewards) == set(range(20, 41))
    assert chi_square(fees, 10, 20) < CHI_SQUARE_CRITICAL[10], fees
    assert chi_square(rewards, 20, 40) < CHI_SQUARE_CRITICAL[20], rewards


def test_chi_square_would_catch_a_lopsided_source():
    lopsided = random.Random(3)
    fees = Counter(min(lopsided.randint(10, 21), 20) for _ in range(DRAWS))  # 20 twice as likely
    assert chi_square(fees, 10, 20) > CHI_SQUARE_CRITICAL[10]


def test_fee_debits_reward_credits_and_income_is_minus_their_sum():
    price = domain.Price(Decimal("12.00"), Decimal("31.00"))
    assert domain.fee_debit(price) == Decimal("-12.00")
    assert domain.reward_credit(price) == Decimal("31.00")
    assert domain.management_income(
        [Decimal("-12.00"), Decimal("-15.00"), Decimal("31.00")]
    ) == Decimal("-4.00")
    assert domain.management_income([Decimal("-12.00"), Decimal("-15.00")]) == Decimal("27.00")


def test_nothing_booked_is_an_income_of_plain_zero_never_minus_zero():
    assert str(domain.management_income([])) == "0.00"
    assert str(domain.management_income([Decimal("0.00")])) == "0.00"
    assert str(domain.cents(-Decimal("0.00"))) == "0.00"


@pytest.mark.parametrize(
    "balance, paid",
    [
        (Decimal("19.00"), Decimal("19.00")),
        (Decimal("0.01"), Decimal("0.01")),
        (Decimal("0.00"), None),
        (Decimal("-7.00"), None),
    ],
)
def test_only_a_positive_balance_is_paid_out_all_of_it(balance, paid):
    assert domain.payout_amount(balance) == paid


@pytest.mark.parametrize(
    "closed, today, opened",
    [
        (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2)),  # the scheduler just after midnight
        (date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 2)),  # closed by hand during the day
        (
            date(2026, 3, 1),
            date(2026, 3, 5),
            date(2026, 3, 5),
        ),  # after days of downtime: no empty days
    ],
)
def test_closing_a_day_opens_the_next_or_today(closed, today, opened):
    assert domain.next_open_day(closed, today) == opened


def test_a_day_is_due_for_closing_once_it_is_past():
    assert domain.is_due(date(2026, 3, 1), date(2026, 3, 2))
    assert not domain.is_due(date(2026, 3, 2), date(2026, 3, 2))


def test_the_local_date_follows_the_business_time_zone():
    moment = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    assert domain.local_date(moment, ZoneInfo("UTC")) == date(2026, 3, 1)
    assert domain.local_date(moment, ZoneInfo("Europe/Moscow")) == date(2026, 3, 2)


@pytest.mark.parametrize(
    "text", ["2026-3-1", "01.03.2026", "2026-02-30", "", "2026-03-01T00:00", " 2026-03-01"]
)
def test_a_day_must_be_a_real_calendar_day_in_iso_form(text):
    with pytest.raises(domain.InvalidInput):
        domain.parse_day(text)


def test_report_ranges_include_both_ends_and_are_bounded():
    assert domain.report_days(date(2026, 2, 27), date(2026, 3, 1)) == [
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
    ]
    assert len(domain.report_days(date(2025, 1, 1), date(2025, 12, 31))) == 365
    with pytest.raises(domain.InvalidInput, match="at most 366"):
        domain.report_days(date(2025, 1, 1), date(2026, 1, 2))
    with pytest.raises(domain.InvalidInput, match="after"):
        domain.report_days(date(2026, 3, 2), date(2026, 3, 1))


@pytest.mark.parametrize(
    "role, sees",
    [
        ("admin", True),
        ("accountant", True),
        ("manager", False),
        ("boss", False),
        ("developer", False),
    ],
)
def test_only_admins_and_accountants_see_everyone(role, sees):
    assert domain.may_see_everyone(role) is sees
