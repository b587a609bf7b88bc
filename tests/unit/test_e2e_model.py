"""The end-to-end tests' model of the business rules (tests/e2e/model.py), checked on small cases
worked out by hand: a wrong model would make the whole-system proof prove nothing."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.model import (
    Books,
    Completion,
    Line,
    Price,
    audit_log_problems,
    expected_mails,
    expected_notices,
    joined_parts,
    mail_keys,
    money,
    most_expensive,
    most_expensive_by_day,
)

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
KESHA, GOSHA = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def books() -> Books:
    return Books(
        {
            "t1": Price(money("10"), money("40")),
            "t2": Price(money("20"), money("25")),
            "t3": Price(money("15"), money("30")),
        }
    )


def transaction(kind, amount, after, task=None, day=D1):
    return {
        "kind": kind,
        "amount": amount,
        "balance_after": after,
        "billing_date": day.isoformat(),
        "task": {"task_id": task, "jira_id": None, "title": "x", "description": ""}
        if task
        else None,
    }


def test_every_assignment_costs_the_fee_and_the_first_completion_earns_the_reward():
    model = books()
    model.book(
        D1, assignments=[("t1", KESHA), ("t1", KESHA), ("t2", GOSHA)], completions=[("t1", KESHA)]
    )
    model.complete(D1, "t1", KESHA)  # a second completion pays nothing
    assert model.balances == {KESHA: Decimal("20.00"), GOSHA: Decimal("-20.00")}
    assert model.days[D1].lines[KESHA] == Counter(
        {
            Line("assign_fee", Decimal("-10.00"), "t1"): 2,
            Line("completion_reward", Decimal("40.00"), "t1"): 1,
        }
    )
    assert model.days[D1].income == Decimal("0.00")  # 10 + 10 + 20 taken, 40 given
    assert model.negative_balances() == 1


def test_a_close_pays_positive_balances_and_negative_ones_carry_over():
    model = books()
    model.book(D1, assignments=[("t1", KESHA), ("t2", GOSHA)], completions=[("t1", KESHA)])
    assert model.close(D1) == {KESHA: Decimal("30.00")}
    assert model.days[D1].lines[KESHA][Line("payout", Decimal("-30.00"), None)] == 1
    assert model.balances[KESHA] == 0 and model.balances[GOSHA] == Decimal("-20.00")
    model.book(D2, assignments=[("t3", GOSHA)], completions=[("t2", GOSHA)])
    assert model.days[D2].opening_balance(GOSHA) == Decimal("-20.00")
    assert model.close(D2) == {}  # -20 - 15 + 25 = -10 stays
    assert model.balances[GOSHA] == Decimal("-10.00")
    assert model.days[D2].income == Decimal("-10.00")
    with pytest.raises(ValueError):
        model.assign(D1, "t3", KESHA)  # a closed day takes nothing more


def test_an_audit_log_in_another_order_with_right_arithmetic_passes():
    model = books()
    model.book(D1, assignments=[("t1", KESHA)], completions=[("t1", KESHA)])
    model.close(D1)
    log = [
        transaction("completion_reward", "40.00", "40.00", "t1"),
        transaction("assign_fee", "-10.00", "30.00", "t1"),
        transaction("payout", "-30.00", "0.00"),
    ]
    assert audit_log_problems(KESHA, model.days[D1], log) == []


@pytest.mark.parametrize(
    "log, complaint",
    [
        ([transaction("assign_fee", "-10.00", "-10.00", "t1")], "missing"),
        (
            [
                transaction("assign_fee", "-10.00", "-10.00", "t1"),
                transaction("completion_reward", "40.00", "30.00", "t1"),
                transaction("completion_reward", "40.00", "70.00", "t1"),
                transaction("payout", "-30.00", "0.00"),
            ],
            "unexpected",
        ),
        (
            [
                transaction("assign_fee", "-10.00", "-10.00", "t1"),
                transaction("completion_reward", "40.00", "31.00", "t1"),
                transaction("payout", "-30.00", "0.00"),
            ],
            "should be 30.00",
        ),
        (
            [
                transaction("payout", "-30.00", "-30.00"),
                transaction("assign_fee", "-10.00", "-40.00", "t1"),
                transaction("completion_reward", "40.00", "0.00", "t1"),
            ],
            "payout is not the last",
        ),
        (
            [
                transaction("assign_fee", "-10.00", "-10.00", "t1", day=D2),
                transaction("completion_reward", "40.00", "30.00", "t1"),
                transaction("payout", "-30.00", "0.00"),
            ],
            "billing_date",
        ),
    ],
)
def test_an_audit_log_that_lost_doubled_or_miscounted_a_line_is_caught(log, complaint):
    model = books()
    model.book(D1, assignments=[("t1", KESHA)], completions=[("t1", KESHA)])
    model.close(D1)
    problems = audit_log_problems(KESHA, model.days[D1], log)
    assert any(complaint in problem for problem in problems), problems


def test_the_second_days_log_starts_from_the_carried_over_balance():
    model = books()
    model.book(D1, assignments=[("t2", GOSHA)])
    model.close(D1)
    model.book(D2, completions=[("t2", GOSHA)])
    log = [transaction("completion_reward", "25.00", "5.00", "t2", day=D2)]
    assert audit_log_problems(GOSHA, model.days[D2], log) == []
    assert audit_log_problems(
        GOSHA, model.days[D2], [transaction("completion_reward", "25.00", "25.00", "t2", day=D2)]
    )


def test_seed_002_most_expensive_task_per_day_and_for_the_range():
    utc = ZoneInfo("UTC")
    at = lambda day, hour: datetime(2026, 3, day, hour, tzinfo=UTC)  # noqa: E731
    done = [
        Completion("a", money(23), at(1, 9)),
        Completion("b", money(20), at(1, 10)),
        Completion("c", money(38), at(2, 9)),
        Completion("d", money(28), at(3, 9)),
        Completion("e", money(21), at(3, 23)),
    ]
    by_day = most_expensive_by_day(done, utc)
    assert {day.day: found.reward for day, found in by_day.items()} == {1: 23, 2: 38, 3: 28}
    assert most_expensive(done).task_id == "c"
    # Another zone moves the 23:00 UTC completion to the next day.
    assert date(2026, 3, 4) in most_expensive_by_day(done, ZoneInfo("Etc/GMT-3"))


def test_ties_go_to_the_earlier_completion_then_the_smaller_id():
    noon = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert (
        most_expensive(
            [
                Completion("b", money(40), noon + timedelta(seconds=1)),
                Completion("c", money(40), noon),
            ]
        ).task_id
        == "c"
    )
    assert (
        most_expensive([Completion("b", money(40), noon), Completion("a", money(40), noon)]).task_id
        == "a"
    )
    assert most_expensive([]) is None


def test_prices_outside_the_rules_are_named():
    assert Price(money(10), money(40)).problems() == []
    assert len(Price(money("9.00"), money("40.50")).problems()) == 2


def test_money_is_never_a_float():
    with pytest.raises(TypeError):
        money(12.0)
    assert money("12") == Decimal("12.00") and str(money("12")) == "12.00"


def test_notices_are_predicted_for_each_assignment_job_completion_and_closed_day():
    model = books()
    model.book(D1, assignments=[("t1", KESHA), ("t2", GOSHA)], completions=[("t1", KESHA)])
    model.book(D1, assignments=[("t2", KESHA)])  # the job moved t2 from gosha to kesha
    model.close(D1)
    assignments = {"t1": [(KESHA, None)], "t2": [(GOSHA, None), (KESHA, "job")]}
    found = expected_notices(assignments, {"t1": KESHA}, model)
    assert found == Counter(
        {
            (KESHA, "task_assigned", "t1", None): 1,
            (GOSHA, "task_assigned", "t2", None): 1,
            (KESHA, "task_completed", "t1", None): 1,
            (KESHA, "reassignment", "job", (("t2",), ())): 1,
            (GOSHA, "reassignment", "job", ((), ("t2",))): 1,
            # kesha: -10 (t1) +40 -20 (t2) = 10, paid out; gosha: -20 (t2), carried
            (KESHA, "day_closed", "2026-03-01", (money(40), money(30), money(10), money(0))): 1,
            (GOSHA, "day_closed", "2026-03-01", (money(0), money(20), money(0), money(-20))): 1,
        }
    )
    mails = expected_mails(
        found,
        {KESHA: "k@x", GOSHA: "g@x"},
        {"t1": "UBERPOP-1 One", "t2": "Two"},
        model.prices,
    )
    assert mails[("k@x", "Completed: UBERPOP-1 One, you earned $40.00")] == 1
    assert mails[("g@x", "Your day 2026-03-01: balance carried \u2212$20.00, paid out $0.00")] == 1
    assert (
        mails[("g@x", "reassignment", "lost")] == 1 and ("g@x", "reassignment", "got") not in mails
    )
    assert mail_keys("g@x", "Reassignment (continued): you got 2 tasks, lost 1 task") == Counter(
        {("g@x", "reassignment", "got"): 2, ("g@x", "reassignment", "lost"): 1}
    )
    assert mail_keys("g@x", "Reassignment: you lost 3 tasks") == Counter(
        {("g@x", "reassignment", "lost"): 3}
    )


def test_a_job_told_in_two_parts_joins_into_one():
    keys = [
        (KESHA, "reassignment", "job", (("t1",), ())),
        (KESHA, "reassignment", "job", (("t3",), ("t2",))),
        (KESHA, "task_assigned", "t1", None),
    ]
    assert joined_parts(keys) == Counter(
        {
            (KESHA, "reassignment", "job", (("t1", "t3"), ("t2",))): 1,
            (KESHA, "task_assigned", "t1", None): 1,
        }
    )
