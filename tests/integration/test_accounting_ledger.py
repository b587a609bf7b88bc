"""The ledger on a real database, events applied through the consumer's inbox: prices fixed once,
a fee at every assignment, a reward once, the same ledger whatever the order of the events."""

import json
import random

import pytest
from sqlalchemy import select

from accounting import domain, reports
from accounting.models import accounts, outbox
from ates.bus import Event
from ates.schemas import registry
from tests.integration.accounting_fixtures import (
    AccountingDb,
    TrackerStory,
    account_created,
    accounting_db,  # noqa: F401 - a fixture
    expected_ledger,
    ledger_entries,
    new_id,
    task_assigned,
    task_completed,
    task_created_v1,
    task_snapshot,
)


@pytest.mark.parametrize(
    "first", ["task.created v1", "task.created v2", "task.updated v2", "task.assigned"]
)
def test_the_first_event_of_a_task_fixes_its_price_once(accounting_db, first):
    task, popug = new_id(), new_id()
    events = {
        "task.created v1": task_created_v1(task, popug),
        "task.created v2": task_snapshot(task, popug),
        "task.updated v2": task_snapshot(task, popug, 2, event_type="task.updated"),
        "task.assigned": task_assigned(task, popug),
        "task.completed": task_completed(task, popug),
    }
    accounting_db.apply(events.pop(first))
    price = accounting_db.prices()[task]
    for event in events.values():
        assert accounting_db.apply(event) == ["ack"]
    assert accounting_db.prices() == {task: price}
    assert accounting_db.published("task.priced") == [
        {
            "task_id": task,
            "assign_fee": str(price.assign_fee),
            "completion_reward": str(price.completion_reward),
        }
    ]
    fees = accounting_db.transactions(domain.ASSIGN_FEE)
    assert [t["amount"] for t in fees] == [-price.assign_fee]


def test_a_completion_of_a_task_never_seen_assigned_waits_and_moves_no_money(accounting_db):
    # a forged completion of a task the tracker never had: no price is invented, nobody is paid
    task, kesha = new_id(), new_id()
    assert accounting_db.apply(task_completed(task, kesha)) == ["retry"]
    assert accounting_db.apply(task_snapshot(task, kesha)) == [
        "ack"
    ]  # known, priced, but never assigned
    assert accounting_db.apply(task_completed(task, kesha)) == ["retry"]
    assert accounting_db.transactions() == [] and accounting_db.balances() == {}
    assert [p["task_id"] for p in accounting_db.published("task.priced")] == [task]


def test_the_reward_goes_only_to_the_assignee_of_record(accounting_db):
    task, kesha, gosha = new_id(), new_id(), new_id()
    accounting_db.apply(task_assigned(task, kesha))
    assert accounting_db.apply(task_completed(task, gosha)) == ["retry"]  # not gosha's task
    assert accounting_db.transactions(domain.COMPLETION_REWARD) == []
    reassigned = task_assigned(task, gosha, kesha, new_id())
    stale = task_assigned(
        task, kesha, at=reassigned.data["assigned_at"].replace(year=2020)
    )  # the first, late
    accounting_db.apply(reassigned, stale)
    assert accounting_db.apply(task_completed(task, kesha)) == ["retry"], (
        "kesha is no longer the assignee"
    )
    assert accounting_db.apply(task_completed(task, gosha)) == ["ack"]
    reward = accounting_db.prices()[task].completion_reward
    assert [
        (t["account_id"], t["amount"]) for t in accounting_db.transactions(domain.COMPLETION_REWARD)
    ] == [(gosha, reward)]


def test_of_two_assignments_at_one_moment_the_later_names_the_other_as_previous(accounting_db):
    task, kesha, gosha = new_id(), new_id(), new_id()
    first = task_assigned(task, kesha)
    second = task_assigned(task, gosha, kesha, new_id(), at=first.data["assigned_at"])
    accounting_db.apply(second, first)
    assert accounting_db.apply(task_completed(task, gosha)) == ["ack"]


def test_every_assignment_costs_the_assignee_the_fee_reassignments_included(accounting_db):
    task, kesha, gosha = new_id(), new_id(), new_id()
    accounting_db.apply(task_snapshot(task, kesha), task_assigned(task, kesha))
    job = new_id()
    accounting_db.apply(task_assigned(task, gosha, kesha, job))
    accounting_db.apply(task_assigned(task, kesha, gosha, new_id()))
    accounting_db.apply(
        task_assigned(task, kesha, kesha, new_id())
    )  # a reassignment may pick the same popug
    fee = accounting_db.prices()[task].assign_fee
    assert [(t["account_id"], t["amount"]) for t in accounting_db.transactions()] == [
        (kesha, -fee),
        (gosha, -fee),
        (kesha, -fee),
        (kesha, -fee),
    ]
    assert accounting_db.balances() == {kesha: -3 * fee, gosha: -fee}  # balances may go negative


def test_the_reward_is_paid_once_whatever_repeats(accounting_db):
    task, kesha = new_id(), new_id()
    completed = task_completed(task, kesha)
    accounting_db.apply(task_snapshot(task, kesha), task_assigned(task, kesha))
    assert accounting_db.apply(completed, completed) == ["ack", "ack"]
    assert accounting_db.apply(completed) == ["ack"]  # redelivered: the inbox knows the id
    assert accounting_db.apply(task_completed(task, kesha)) == [
        "ack"
    ]  # another id for the same completion
    price = accounting_db.prices()[task]
    assert [t["amount"] for t in accounting_db.transactions(domain.COMPLETION_REWARD)] == [
        price.completion_reward
    ]
    assert accounting_db.balances() == {kesha: price.completion_reward - price.assign_fee}


def test_a_transaction_carries_kind_signed_amount_balance_after_task_and_billing_day(accounting_db):
    task, kesha = new_id(), new_id()
    accounting_db.apply(task_assigned(task, kesha), task_completed(task, kesha))
    price = accounting_db.prices()[task]
    fee, reward = accounting_db.transactions()
    assert (fee["kind"], fee["amount"], fee["balance_after"], fee["task_id"]) == (
        "assign_fee",
        -price.assign_fee,
        -price.assign_fee,
        task,
    )
    assert (reward["kind"], reward["amount"], reward["balance_after"]) == (
        "completion_reward",
        price.completion_reward,
        price.completion_reward - price.assign_fee,
    )
    assert fee["billing_date"] == reward["billing_date"] == next(iter(accounting_db.days()))
    published = accounting_db.published("transaction.applied")
    assert [(p["transaction_id"], p["amount"], p["balance_after"]) for p in published] == [
        (t["transaction_id"], str(t["amount"]), str(t["balance_after"])) for t in (fee, reward)
    ]


def test_out_of_order_and_duplicated_events_give_the_same_ledger_as_in_order(tmp_path):
    story = TrackerStory.told(tasks=300)
    in_order, mixed_up = (
        AccountingDb(f"sqlite:///{tmp_path / name}.db") for name in ("in_order", "mixed_up")
    )
    try:
        for start in range(0, len(story.events), 100):
            assert set(in_order.apply(*story.events[start : start + 100])) == {"ack"}
        shuffled, rng, start, waiting = story.shuffled_with_duplicates(), random.Random(5), 0, []
        while start < len(shuffled):  # batches of any size, as a consumer would take them
            size = rng.randint(1, 150)
            batch = shuffled[start : start + size]
            outcomes = mixed_up.apply(*batch)
            assert set(outcomes) <= {"ack", "retry"}
            # a completion ahead of its task's latest assignment waits: the consumer's retry path
            waiting += [
                event for event, outcome in zip(batch, outcomes, strict=True) if outcome == "retry"
            ]
            assert all(event.type == "task.completed" for event in waiting)
            start += size
        assert waiting, "the shuffle put some completion ahead of its assignment"
        assert set(mixed_up.apply(*waiting)) == {"ack"}, (
            "once its assignment is in, every completion applies"
        )
        for db in (in_order, mixed_up):
            balances, entries = expected_ledger(story.events, db.prices())
            assert db.balances() == {
                account: domain.cents(amount) for account, amount in balances.items()
            }
            assert ledger_entries(db) == entries
            assert len(db.published("task.priced")) == len(db.prices()) == 300
            total_balances, total_transactions = db.sums()
            assert total_balances == total_transactions

        # prices are drawn at random in each database; apart from them the two ledgers are one
        def shape(db):
            return sorted(
                (account, kind, task) for account, kind, task, _ in ledger_entries(db).elements()
            )

        assert shape(in_order) == shape(mixed_up)
    finally:
        in_order.dispose()
        mixed_up.dispose()


def test_the_audit_log_knows_a_task_once_its_details_arrive_and_keeps_the_newest(accounting_db):
    task, kesha = new_id(), new_id()
    accounting_db.apply(task_assigned(task, kesha))

    def logged_task():
        with accounting_db.uow.read() as session:
            (entry,) = reports.audit_log(session, kesha, next(iter(accounting_db.days())))
            return entry["task"]

    assert logged_task() == {"task_id": task, "jira_id": None, "title": None, "description": None}
    accounting_db.apply(task_created_v1(task, kesha, "[UBERPOP-42] — Change the green"))
    assert logged_task() == {
        "task_id": task,
        "jira_id": "UBERPOP-42",
        "title": "Change the green",
        "description": "greener",
    }
    accounting_db.apply(
        task_snapshot(
            task, kesha, version=3, title="Change the green, all of it", event_type="task.updated"
        )
    )
    accounting_db.apply(
        task_snapshot(task, kesha, version=1, title="an older title")
    )  # late and stale
    assert logged_task()["title"] == "Change the green, all of it"


def test_the_account_replica_keeps_the_newest_snapshot_and_waits_for_an_unknown_account(
    accounting_db,
):
    kesha = new_id()
    role_changed = Event(
        "account.role_changed",
        1,
        "/auth",
        {"account_id": kesha, "role": "accountant", "previous_role": "developer", "version": 2},
    )
    assert accounting_db.apply(role_changed) == ["retry"]  # NotYet: back through the retry path
    accounting_db.apply(
        account_created(
            kesha, version=3, email="kesha@uberpopug.example", event_type="account.updated"
        )
    )
    accounting_db.apply(account_created(kesha, version=1, email="old@uberpopug.example"))
    with accounting_db.uow.read() as session:
        row = (
            session.execute(select(accounts).where(accounts.c.account_id == kesha)).mappings().one()
        )
    assert (row["email"], row["version"]) == ("kesha@uberpopug.example", 3)


def test_everything_accounting_writes_to_its_outbox_fits_its_schema(accounting_db):
    story = TrackerStory.told(tasks=20)
    accounting_db.apply(*story.events)
    with accounting_db.uow.read() as session:
        bodies = list(session.scalars(select(outbox.c.body)))
    assert bodies
    for body in bodies:
        registry().validate(json.loads(body))
    assert {json.loads(body)["type"] for body in bodies} == {"task.priced", "transaction.applied"}
