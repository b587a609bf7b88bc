"""Closing billing days on a real database: every positive balance paid once, by hand, by the
scheduler, twice, and after a crash between two payouts."""

import threading
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounting import billing, domain, reports
from accounting.scheduler import BillingDayScheduler
from ates import clock
from tests.integration.accounting_fixtures import (
    account_created,
    accounting_db,  # noqa: F401 - a fixture
    new_id,
    task_assigned,
    task_completed,
)

PRICE = domain.Price(Decimal("10.00"), Decimal("30.00"))
D = date(2026, 3, 1)


class CrashBetweenPayouts(Exception):
    pass


@pytest.fixture(autouse=True)
def fixed_price(monkeypatch):
    """Every task costs 10 and pays 30 here, so balances are easy to foresee."""
    monkeypatch.setattr(domain, "draw_price", lambda *args: PRICE)


def earn(db, account: str, tasks: int = 1) -> None:
    """The account is assigned and completes `tasks` tasks: +20 each."""
    for _ in range(tasks):
        task = new_id()
        assert db.apply(task_assigned(task, account), task_completed(task, account)) == [
            "ack",
            "ack",
        ]


def owe(db, account: str) -> None:
    assert db.apply(task_assigned(new_id(), account)) == ["ack"]


def test_closing_pays_every_positive_balance_and_leaves_zero_and_negative_alone(accounting_db):
    db = accounting_db
    db.open_day(D)
    rich, richer, broke, even = new_id(), new_id(), new_id(), new_id()
    earn(db, rich)
    earn(db, richer, 2)
    owe(db, broke)
    earn(db, even)
    owe(db, even), owe(db, even)
    summary = billing.close_billing_day(db.uow, D, today=D + timedelta(days=1))
    assert summary == {
        "billing_date": D,
        "status": "closed",
        "payouts": 2,
        "total_paid": Decimal("60.00"),
        "management_income": Decimal("-50.00"),
    }  # 7 fees (70) in, 4 rewards (120) out
    assert db.balances() == {rich: 0, richer: 0, broke: Decimal("-10.00"), even: 0}
    payout_rows = db.transactions(domain.PAYOUT)
    assert sorted(
        (t["account_id"], t["amount"], t["balance_after"], t["task_id"], t["billing_date"])
        for t in payout_rows
    ) == sorted([(rich, Decimal("-20.00"), 0, None, D), (richer, Decimal("-40.00"), 0, None, D)])
    assert sorted(
        (p["account_id"], p["amount"], p["billing_date"]) for p in db.published("payout.sent")
    ) == sorted([(rich, "20.00", "2026-03-01"), (richer, "40.00", "2026-03-01")])
    assert db.published("billing_day.closed") == [
        {
            "billing_date": "2026-03-01",
            "payouts": 2,
            "total_paid": "60.00",
            "management_income": "-50.00",
        }
    ]
    assert db.days() == {D: "closed", D + timedelta(days=1): "open"}


def test_management_income_is_minus_the_fees_and_rewards_of_the_day(accounting_db):
    db = accounting_db
    db.open_day(D)
    kesha = new_id()
    earn(db, kesha)  # fee -10, reward +30: the company is 20 down
    owe(db, kesha), owe(db, kesha), owe(db, kesha)  # three fees: 30 up
    billing.close_billing_day(db.uow, D, today=D + timedelta(days=1))
    owe(db, kesha)  # lands on the next day
    with db.uow.read() as session:
        assert reports.income_by_day(session, D - timedelta(days=1), D + timedelta(days=2)) == [
            (D - timedelta(days=1), Decimal("0.00")),
            (D, Decimal("10.00")),
            (D + timedelta(days=1), Decimal("10.00")),
            (D + timedelta(days=2), Decimal("0.00")),
        ]


def test_closing_a_day_twice_pays_nobody_twice(accounting_db):
    db = accounting_db
    db.open_day(D)
    for _ in range(3):
        earn(db, new_id())
    first = billing.close_billing_day(db.uow, D, today=D + timedelta(days=1))
    earn(
        db, db.payouts()[0]["account_id"]
    )  # money on the next day is not paid by closing this one again
    again = billing.close_billing_day(db.uow, D, today=D + timedelta(days=1))
    assert first == again and first["payouts"] == 3
    assert len(db.payouts()) == 3 and len(db.published("payout.sent")) == 3
    assert len(db.published("billing_day.closed")) == 1


def test_a_crash_between_two_payouts_is_resumed_and_pays_each_popug_exactly_once(accounting_db):
    db = accounting_db
    db.open_day(D)
    popugs = [new_id() for _ in range(6)]
    for n, popug in enumerate(popugs):
        earn(db, popug, n + 1)
    owe(db, new_id())

    def crash_after_the_second(payout):
        if len(db.payouts()) == 2:
            raise CrashBetweenPayouts()

    with pytest.raises(CrashBetweenPayouts):
        billing.close_billing_day(
            db.uow, D, today=D + timedelta(days=1), after_payout=crash_after_the_second
        )
    assert db.days() == {D: "closing", D + timedelta(days=1): "open"}
    assert len(db.payouts()) == 2 and db.published("billing_day.closed") == []
    late = db.payouts()[0]["account_id"]
    earn(db, late)  # while the close is stuck: booked on the next day; paid on D already, not again

    resumed = billing.close_due_days(
        db.uow, today=D + timedelta(days=1)
    )  # the scheduler's next round
    assert [summary["status"] for summary in resumed] == ["closed"]
    paid = {p["account_id"]: p["amount"] for p in db.payouts()}
    assert paid == {
        popug: Decimal(20 * (n + 1)).quantize(Decimal("0.01")) for n, popug in enumerate(popugs)
    }
    assert len(db.published("payout.sent")) == 6
    assert db.published("billing_day.closed") == [
        {
            "billing_date": "2026-03-01",
            "payouts": 6,
            "total_paid": "420.00",
            "management_income": "-410.00",
        }
    ]
    assert db.balances()[late] == Decimal("20.00")
    (late_reward,) = [
        t for t in db.transactions(domain.COMPLETION_REWARD) if t["billing_date"] != D
    ]
    assert late_reward["billing_date"] == D + timedelta(days=1)
    assert billing.close_due_days(db.uow, today=D + timedelta(days=1)) == []


def test_a_second_closer_arriving_mid_close_finishes_it_without_paying_twice(accounting_db):
    db = accounting_db
    db.open_day(D)
    for _ in range(4):
        earn(db, new_id())
    results = []

    def another_closer_arrives(
        payout,
    ):  # the scheduler and an accountant's button at the same moment
        if not results:
            results.append(billing.close_billing_day(db.uow, D, today=D + timedelta(days=1)))

    first = billing.close_billing_day(
        db.uow, D, today=D + timedelta(days=1), after_payout=another_closer_arrives
    )
    assert first == results[0] and first["payouts"] == 4
    assert len(db.payouts()) == 4 and len(db.published("billing_day.closed")) == 1


def test_two_closers_at_the_same_moment_pay_each_popug_once(accounting_db):
    db = accounting_db
    db.open_day(D)
    popugs = [new_id() for _ in range(150)]
    events = []
    for popug in popugs:
        task = new_id()
        events += [task_assigned(task, popug), task_completed(task, popug)]
    db.apply(*events)
    start, results, failures = threading.Barrier(2), [], []

    def close():
        start.wait()
        try:
            results.append(billing.close_billing_day(db.uow, D, today=D + timedelta(days=1)))
        except Exception as error:  # noqa: BLE001 - the test reports it
            failures.append(error)

    closers = [threading.Thread(target=close) for _ in range(2)]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(timeout=60)
    assert failures == [] and len(results) == 2 and results[0] == results[1]
    assert (
        results[0]["payouts"] == 150
        and len({p["account_id"] for p in db.payouts()}) == len(db.payouts()) == 150
    )
    assert len(db.published("payout.sent")) == 150 and len(db.published("billing_day.closed")) == 1


@pytest.mark.parametrize(
    "asked, error",
    [
        (D + timedelta(days=1), domain.DayNotOpenYet),
        (D - timedelta(days=1), domain.NoSuchBillingDay),
    ],
)
def test_only_the_open_day_or_a_past_billing_day_can_be_closed(accounting_db, asked, error):
    accounting_db.open_day(D)
    with pytest.raises(error):
        billing.close_billing_day(accounting_db.uow, asked, today=D)
    assert accounting_db.days() == {D: "open"}


def test_closing_today_by_hand_opens_tomorrow(accounting_db):
    today = domain.local_date(clock.utcnow(), ZoneInfo("UTC"))
    summary = billing.close_billing_day(
        accounting_db.uow, today, today=today
    )  # the first day opens lazily
    assert summary["status"] == "closed" and summary["payouts"] == 0
    assert accounting_db.days() == {today: "closed", today + timedelta(days=1): "open"}


def test_the_scheduler_closes_the_past_day_and_catches_up_after_downtime(accounting_db):
    db = accounting_db
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its today is rarely UTC's
    today = domain.local_date(clock.utcnow(), zone)
    db.open_day(today - timedelta(days=3))
    earn(db, new_id())
    scheduler = BillingDayScheduler(db.uow, zone, interval=0.1)
    closed = scheduler.close_due_days()
    assert [(s["billing_date"], s["payouts"]) for s in closed] == [(today - timedelta(days=3), 1)]
    assert db.days() == {
        today - timedelta(days=3): "closed",
        today: "open",
    }  # no empty days in between
    assert scheduler.close_due_days() == []


def test_a_payout_waits_for_no_account_event(accounting_db):
    """A popug the accounting has not heard of from auth is still paid (the notifier tells it)."""
    db = accounting_db
    db.open_day(D)
    known, unknown = new_id(), new_id()
    db.apply(account_created(known))
    earn(db, known), earn(db, unknown)
    assert billing.close_billing_day(db.uow, D, today=D)["payouts"] == 2
    assert {p["account_id"] for p in db.payouts()} == {known, unknown}


def test_closing_the_next_day_first_finishes_the_close_a_crash_interrupted(accounting_db):
    db = accounting_db
    db.open_day(D)
    first, second = new_id(), new_id()
    earn(db, first), earn(db, second)

    def crash(payout):
        raise CrashBetweenPayouts()

    with pytest.raises(CrashBetweenPayouts):
        billing.close_billing_day(db.uow, D, today=D, after_payout=crash)
    (paid_before_the_crash,) = [payout["account_id"] for payout in db.payouts()]
    earn(db, paid_before_the_crash)  # on D + 1
    summary = billing.close_billing_day(db.uow, D + timedelta(days=1), today=D + timedelta(days=1))
    assert summary["payouts"] == 1 and summary["total_paid"] == Decimal("20.00")
    assert sorted((p["billing_date"], p["amount"]) for p in db.payouts()) == [
        (D, Decimal("20.00")),
        (D, Decimal("20.00")),
        (D + timedelta(days=1), Decimal("20.00")),
    ]
    assert db.days() == {
        D: "closed",
        D + timedelta(days=1): "closed",
        D + timedelta(days=2): "open",
    }
