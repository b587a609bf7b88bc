"""The notifier's pure rules: grouping a reassignment's moves, the words of each notice, a day's sums."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ates import money
from notifier import domain
from notifier.mailer import retry_delay

T1, T2, T3 = "t1", "t2", "t3"
PRICED = {
    T1: domain.TaskDetails(T1, "UBERPOP-1", "Feed the fish", Decimal("12.00"), Decimal("31.00")),
    T2: domain.TaskDetails(T2, None, "Water the cactus", Decimal("10.00"), Decimal("20.00")),
    T3: domain.TaskDetails(T3, "UBERPOP-3", "Sweep", None, None),
}


def test_a_task_moved_between_two_popugs_is_news_at_both_ends_and_staying_is_none():
    assert domain.moves(T1, "b", "a") == [("b", domain.GOT, T1), ("a", domain.LOST, T1)]
    assert domain.moves(T1, "a", "a") == []
    assert domain.moves(T1, "b", None) == [("b", domain.GOT, T1)]


def test_grouping_gives_each_popug_what_it_got_and_lost():
    changes = [
        *domain.moves(T1, "b", "a"),
        *domain.moves(T2, "a", "b"),
        *domain.moves(T3, "b", "c"),
    ]
    assert domain.group_changes(changes) == {
        "a": {"got": [T2], "lost": [T1]},
        "b": {"got": [T1, T3], "lost": [T2]},
        "c": {"got": [], "lost": [T3]},
    }


@pytest.mark.parametrize(
    ("got", "lost", "headline"),
    [
        (7, 3, "you got 7 tasks, lost 3 tasks"),
        (1, 0, "you got 1 task"),
        (0, 1, "you lost 1 task"),
        (0, 0, "nothing changed for you"),
    ],
)
def test_the_reassignment_headline(got, lost, headline):
    assert domain.reassignment_headline(got, lost) == headline


def test_an_assignment_notice_names_the_task_and_its_price_once_known():
    words = domain.wording(domain.TASK_ASSIGNED, {"task_id": T1}, PRICED, "Kesha")
    assert words.subject == "New task for you: UBERPOP-1 Feed the fish" and words.complete
    assert "Hello Kesha" in words.body and "$12.00" in words.body and "$31.00" in words.body
    unpriced = domain.wording(domain.TASK_ASSIGNED, {"task_id": T3}, PRICED, None)
    assert not unpriced.complete and "being worked out" in unpriced.body
    unknown = domain.wording(domain.TASK_ASSIGNED, {"task_id": "t9"}, PRICED, None)
    assert not unknown.complete


def test_a_completion_notice_says_the_reward():
    words = domain.wording(domain.TASK_COMPLETED, {"task_id": T2}, PRICED, "Polly")
    assert words.subject == "Completed: Water the cactus, you earned $20.00" and words.complete


def test_a_reassignment_notice_lists_every_task_and_marks_a_continuation():
    facts = {"reassignment_id": "r", "got": [T2, T1], "lost": [T3], "part": 2}
    words = domain.wording(domain.REASSIGNMENT, facts, PRICED, "Rio")
    assert words.subject == "Reassignment (continued): you got 2 tasks, lost 1 task"
    assert words.body.index("UBERPOP-1 Feed the fish") < words.body.index("Water the cactus")
    assert "You lost:\n  - UBERPOP-3 Sweep" in words.body and words.complete


def test_a_day_sums_rewards_fees_and_payouts_and_keeps_the_latest_balance():
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    day = domain.DaySummary(date(2026, 12, 1))
    day = day.with_transaction("assign_fee", Decimal("-12.00"), Decimal("-12.00"), at)
    day = day.with_transaction(
        "completion_reward", Decimal("31.00"), Decimal("7.00"), at + timedelta(seconds=2)
    )
    # a transaction that arrives late but happened earlier does not move the balance back
    day = day.with_transaction(
        "assign_fee", Decimal("-12.00"), Decimal("-24.00"), at + timedelta(seconds=1)
    )
    assert (day.earned, day.fees, day.paid_out, day.balance) == (
        Decimal("31.00"),
        Decimal("24.00"),
        Decimal("0.00"),
        Decimal("7.00"),
    )
    day = day.with_transaction("payout", Decimal("-7.00"), Decimal("0.00"), at + timedelta(hours=9))
    assert domain.DaySummary.from_facts(day.facts()) == domain.DaySummary(
        date(2026, 12, 1), Decimal("31.00"), Decimal("24.00"), Decimal("7.00"), Decimal("0.00")
    )
    with pytest.raises(ValueError, match="unknown transaction kind"):
        day.with_transaction("bonus", Decimal("1.00"), Decimal("1.00"), at)


def test_a_negative_carry_is_news_too():
    facts = domain.DaySummary(
        date(2026, 12, 1), Decimal("0.00"), Decimal("24.00"), Decimal("0.00"), Decimal("-24.00")
    ).facts()
    words = domain.wording(domain.DAY_CLOSED, facts, {}, "Zazu")
    assert words.subject == "Your day 2026-12-01: balance carried \u2212$24.00, paid out $0.00"
    assert "carries over" in words.body and words.complete


def test_money_for_people_uses_a_minus_sign():
    assert money.display(Decimal("-96")) == "\u2212$96.00"
    assert money.display(Decimal("38")) == "$38.00"


@pytest.mark.parametrize("text", ["0", "201", "-3", "ten", "1.5", ""])
def test_a_page_size_outside_1_to_200_is_refused(text):
    with pytest.raises(domain.InvalidQuery):
        domain.page_size(text)


def test_failed_mail_waits_longer_each_time_up_to_a_ceiling():
    delays = [retry_delay(attempts) for attempts in range(0, 8)]
    assert delays == sorted(delays) and delays[-1] == delays[-2]


@pytest.mark.parametrize("kind", sorted(domain.TASK_KINDS))
def test_a_task_notice_is_mailed_unless_task_mail_was_turned_off(kind):
    assert domain.is_mailed(kind, None)  # never saved settings: the default, mail on
    assert domain.is_mailed(kind, True)
    assert not domain.is_mailed(kind, False)


def test_the_end_of_day_notice_is_mailed_whatever_the_setting():
    assert all(domain.is_mailed(domain.DAY_CLOSED, setting) for setting in (None, True, False))
