"""Analytics' read models on a real database, fed through its inbox as the consumer feeds them:
the seed 002 example, a generated month against figures computed from the generated data,
out-of-order and duplicated delivery, ties, time zones, the archive and the rebuild."""

import itertools
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from analytics import archive, rebuild, service
from analytics.app import create_app
from analytics.models import daily_income, event_archive, inbox
from ates import migrations
from ates.config import load_settings
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.analytics_events import (
    analytics_inbox,
    deliver,
    generated_month,
    read_models,
    seed_002_story,
    shuffled_with_duplicates,
    task_completed,
    task_created_v1,
    task_created_v2,
    task_priced,
    task_updated,
    transaction_applied,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 1)


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A migrated analytics database of the test's own: (url, uow)."""
    monkeypatch.setenv("ATES_TIMEZONE", "UTC")
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    migrations.upgrade(ROOT / "analytics" / "migrations", url)
    engine = make_engine(url)
    yield url, UnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def uow(database):
    return database[1]


def other_database(tmp_path, name: str):
    url = f"sqlite:///{tmp_path / name}"
    migrations.upgrade(ROOT / "analytics" / "migrations", url)
    return UnitOfWork(make_engine(url))


def top_rewards(uow, first: date, last: date) -> tuple[list, Decimal | None]:
    with uow.read() as session:
        found = service.most_expensive_task(session, first, last)
    return (
        [day["task"] and day["task"].reward for day in found["by_day"]],
        found["task"] and found["task"].reward,
    )


def test_seed_002_most_expensive_task_is_23_38_28_and_38_for_the_range(uow):
    story = seed_002_story()
    deliver(uow, story.events)
    by_day, whole_range = top_rewards(uow, date(2026, 3, 1), date(2026, 3, 3))
    assert by_day == [Decimal("23.00"), Decimal("38.00"), Decimal("28.00")]
    assert whole_range == Decimal("38.00")


@pytest.mark.parametrize("seed", [11, 12])
def test_a_generated_month_matches_the_figures_computed_from_the_generated_data(uow, seed):
    story = generated_month(seed)
    deliver(uow, story.events)
    with uow.read() as session:
        expensive = service.most_expensive_task(session, story.first_day, story.last_day)
        income = service.income_by_day(session, story.first_day, story.last_day)
        summary = service.summary(session, story.last_day)
    assert {
        day["date"]: day["task"].task_id for day in expensive["by_day"] if day["task"]
    } == story.top_task_by_day
    assert {
        day["date"]: day["task"].reward for day in expensive["by_day"] if day["task"]
    } == story.top_reward_by_day
    assert expensive["task"].task_id == story.top_task_of_range
    winner = story.tasks[story.top_task_of_range]
    assert (expensive["task"].title, expensive["task"].jira_id, expensive["task"].completed_at) == (
        winner["title"],
        winner["jira_id"],
        winner["completed_at"],
    )
    shown = {day["date"]: day["management_income"] for day in income["days"]}
    assert len(shown) == 30 and shown == {
        day: story.income_by_day.get(day, Decimal("0.00")) for day in shown
    }
    assert summary["negative_balances"] == story.negative_balances > 0
    assert summary["management_income"] == story.income_by_day[story.last_day]


def test_shuffled_and_duplicated_delivery_gives_the_same_figures(tmp_path, uow):
    story = generated_month(21)
    deliver(uow, story.events)
    in_order = read_models(uow)
    for seed in (1, 2):
        elsewhere = other_database(tmp_path, f"shuffled-{seed}.db")
        retried = deliver(elsewhere, shuffled_with_duplicates(story.events, seed), batch_size=25)
        assert retried > 0, "some completions should have come before their prices"
        assert read_models(elsewhere) == in_order


def test_a_completion_before_its_price_waits_and_is_counted_once_the_price_arrives(uow):
    task_id, assignee = str(uuid.uuid4()), str(uuid.uuid4())
    completed_at = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    box = analytics_inbox(uow)
    completed = task_completed(task_id, assignee, completed_at)
    [outcome] = box.apply([completed])
    assert outcome.action == "retry" and "no price yet" in outcome.reason
    assert top_rewards(uow, DAY, DAY) == ([None], None)
    assert [
        o.action for o in box.apply([task_priced(task_id, Decimal(12), Decimal(31), completed_at)])
    ] == ["ack"]
    assert [o.action for o in box.apply([completed, completed])] == ["ack", "ack"]
    assert top_rewards(uow, DAY, DAY) == ([Decimal("31.00")], Decimal("31.00"))


def test_a_task_completed_in_two_different_events_is_counted_once(uow):
    task_id, assignee = str(uuid.uuid4()), str(uuid.uuid4())
    first = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    deliver(
        uow,
        [
            task_priced(task_id, Decimal(12), Decimal(31), first),
            task_completed(task_id, assignee, first),
            task_completed(task_id, assignee, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ],
    )
    assert top_rewards(uow, DAY, date(2026, 3, 2)) == ([Decimal("31.00"), None], Decimal("31.00"))
    assert len(read_models(uow)["completions"]) == 1


def test_a_tie_goes_to_the_earlier_completion_whatever_the_arrival_order(tmp_path):
    ids = sorted(str(uuid.uuid4()) for _ in range(3))
    tied = [
        (ids[2], datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),  # the earliest: wins the day
        (ids[0], datetime(2026, 3, 1, 11, 0, tzinfo=UTC)),
        (ids[1], datetime(2026, 3, 1, 11, 0, tzinfo=UTC)),
    ]
    events = [
        e
        for task_id, at in tied
        for e in (
            task_priced(task_id, Decimal(10), Decimal(30), at),
            task_completed(task_id, str(uuid.uuid4()), at),
        )
    ]
    for number, order in enumerate(itertools.permutations(events[1::2])):
        uow = other_database(tmp_path, f"ties-{number}.db")
        deliver(uow, events[0::2] + list(order))
        with uow.read() as session:
            assert service.most_expensive_task(session, DAY, DAY)["task"].task_id == ids[2]
    # Completed at the same moment: the smaller task id, again whatever the order.
    for number, order in enumerate([events[2:], events[4:] + events[2:4]]):
        uow = other_database(tmp_path, f"same-moment-{number}.db")
        deliver(uow, order)
        with uow.read() as session:
            assert service.most_expensive_task(session, DAY, DAY)["task"].task_id == ids[0]


def test_an_analytics_day_is_a_calendar_day_in_ates_timezone(uow):
    task_id = str(uuid.uuid4())
    late_evening_utc = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # already 2 March in Vladivostok
    deliver(
        uow,
        [
            task_priced(task_id, Decimal(10), Decimal(25), late_evening_utc),
            task_completed(task_id, str(uuid.uuid4()), late_evening_utc),
        ],
        zone="Asia/Vladivostok",
    )  # UTC+10
    assert top_rewards(uow, DAY, date(2026, 3, 2)) == ([None, Decimal("25.00")], Decimal("25.00"))


def test_old_titles_give_up_their_jira_id_and_an_older_snapshot_never_wins(uow):
    task_id, assignee = str(uuid.uuid4()), str(uuid.uuid4())
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    deliver(uow, [task_created_v1(task_id, "Change the green", "UBERPOP-42", at, assignee)])
    assert read_models(uow)["task_details"] == [(task_id, "UBERPOP-42", "Change the green", 1)]
    deliver(
        uow,
        [
            task_updated(task_id, "Change the blue", "UBERPOP-43", at, assignee, 3),
            task_updated(task_id, "Change the red", "UBERPOP-44", at, assignee, 2),
            task_created_v2(task_id, "Change the green", "UBERPOP-42", at, assignee),
        ],
    )
    assert read_models(uow)["task_details"] == [(task_id, "UBERPOP-43", "Change the blue", 3)]


def test_a_paid_out_balance_counts_as_zero_not_as_below_zero(uow):
    kesha, pasha = str(uuid.uuid4()), str(uuid.uuid4())
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    transactions = {
        kesha: [("assign_fee", "-0.10"), ("completion_reward", "30.30"), ("payout", "-30.20")],
        pasha: [
            ("assign_fee", "-10.10"),
            ("completion_reward", "20.20"),
            ("payout", "-10.10"),
            ("assign_fee", "-0.01"),
        ],
    }
    deliver(
        uow,
        [
            transaction_applied(
                account,
                kind,
                Decimal(amount),
                Decimal(0),
                None if kind == "payout" else str(uuid.uuid4()),
                DAY,
                at,
            )
            for account, found in transactions.items()
            for kind, amount in found
        ],
    )
    with uow.read() as session:
        summary = service.summary(session, DAY)
    assert summary == {"date": DAY, "management_income": Decimal("-40.29"), "negative_balances": 1}


def test_the_archive_holds_each_applied_event_once_in_an_order_they_can_be_applied_in(uow):
    story = generated_month(31, days=10)
    deliver(uow, shuffled_with_duplicates(story.events, 3), batch_size=25)
    with uow.read() as session:
        archived = session.execute(
            select(
                event_archive.c.event_id, event_archive.c.event_type, event_archive.c.message
            ).order_by(event_archive.c.sequence)
        ).all()
        applied = set(session.scalars(select(inbox.c.event_id)))
    assert (
        sorted(row.event_id for row in archived)
        == sorted({event.id for event in story.events})
        == sorted(applied)
    )
    priced_before = set()
    for row in archived:
        message = json.loads(row.message)
        assert message["id"] == row.event_id and message["type"] == row.event_type
        if row.event_type == "task.priced":
            priced_before.add(message["data"]["task_id"])
        if row.event_type == "task.completed":
            assert message["data"]["task_id"] in priced_before


def test_rebuild_from_the_archive_equals_the_live_read_models(database, tmp_path):
    url, uow = database
    story = generated_month(41)
    deliver(uow, shuffled_with_duplicates(story.events, 4), batch_size=30)
    live = read_models(uow)
    with uow.begin() as session:  # a stray row, which the rebuild must wipe
        session.execute(
            insert(daily_income).values(day=date(1999, 1, 1), management_income=Decimal("1.00"))
        )
    app = create_app(load_settings("analytics", {"ANALYTICS_DATABASE_URL": url}))
    result = app.test_cli_runner().invoke(args=["rebuild"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"replayed {len({e.id for e in story.events})} events" in result.output
    assert read_models(uow) == live


def test_rebuild_as_a_module_reports_what_it_replayed(database):
    url, uow = database
    deliver(uow, seed_002_story().events)
    live = read_models(uow)
    done = subprocess.run(
        [sys.executable, "-m", "analytics.rebuild"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ANALYTICS_DATABASE_URL": url},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "task.completed v1: 9" in done.stdout and "daily_top_task: 3 rows" in done.stdout
    assert read_models(uow) == live


def test_a_rebuild_that_cannot_apply_an_event_changes_nothing(uow):
    deliver(uow, seed_002_story().events)
    live = read_models(uow)
    orphan = task_completed(
        str(uuid.uuid4()), str(uuid.uuid4()), datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    )
    with (
        uow.begin() as session
    ):  # an archive no live worker could have written: a completion never priced
        archive.keep(session, orphan)
    with pytest.raises(rebuild.RebuildFailed, match="cannot be applied"):
        with uow.begin() as session:
            rebuild.rebuild_read_models(session, UTC)
    assert read_models(uow) == live
