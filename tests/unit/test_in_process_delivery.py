"""ates/bus/testing.py: a rule across services, tested at unit speed through the consumers' own code.

auth signs a popug up, the tracker gives it a task, accounting prices the task and charges the
fee; a completion pays once however often it arrives; a message not from the producer it names is
refused as the broker-backed consumer refuses it. The real-broker tests remain the proof of the
bus itself (tests/integration/test_bus.py, tests/e2e/)."""

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from accounting.handlers import handlers as accounting_handlers
from accounting.models import inbox as accounting_inbox
from accounting.models import transactions
from ates import migrations
from ates.bus import Inbox
from ates.bus.testing import deliver
from ates.unit_of_work import UnitOfWork
from auth import service as auth_service
from auth.models import outbox as auth_outbox
from tests.handed_in import handed_in
from tracker import service as tracker_service
from tracker.handlers import handlers as tracker_handlers
from tracker.models import inbox as tracker_inbox
from tracker.models import outbox as tracker_outbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def system(tmp_path):
    """Each service's own migrated SQLite database; the consumers' inboxes as their workers build them."""
    found = {}
    for name in ("auth", "tracker", "accounting"):
        url = f"sqlite:///{tmp_path / name}.db"
        migrations.upgrade(ROOT / name / "migrations", url)
        found[name] = UnitOfWork.from_url(url)
    found["tracker inbox"] = Inbox(
        tracker_inbox, found["tracker"], tracker_handlers, handed_in("tracker")
    )
    found["accounting inbox"] = Inbox(
        accounting_inbox, found["accounting"], accounting_handlers, handed_in("accounting")
    )
    yield found
    for name in ("auth", "tracker", "accounting"):
        found[name].dispose()


def kinds_and_amounts(uow: UnitOfWork) -> list[tuple[str, Decimal]]:
    with uow.read() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(transactions.c.kind, transactions.c.amount).order_by(
                    transactions.c.applied_at
                )
            )
        ]


def test_a_sign_up_then_a_task_reaches_accounting_as_a_price_and_a_fee(system):
    popug = auth_service.create_account(
        system["auth"], "kesha", "sunflower-seeds-forever", "kesha@uberpopug.example"
    )
    inboxes = (system["tracker inbox"], system["accounting inbox"])
    signed_up = deliver("auth", auth_outbox, system["auth"], *inboxes)
    assert {(d.consumer, d.event_type, d.action) for d in signed_up} == {
        ("tracker", "account.created", "ack"),
        ("accounting", "account.created", "ack"),
    }
    with system["tracker"].begin() as session:
        task = tracker_service.create_task(session, popug.account_id, "Feed the parrots")
    assert task["assignee_id"] == popug.account_id  # the only assignable popug the tracker knows
    created = deliver("tracker", tracker_outbox, system["tracker"], system["accounting inbox"])
    assert [(d.event_type, d.action) for d in created] == [
        ("task.created", "ack"),
        ("task.created", "ack"),
        ("task.assigned", "ack"),
    ]
    [(kind, fee)] = kinds_and_amounts(system["accounting"])
    assert kind == "assign_fee" and Decimal("-20.00") <= fee <= Decimal("-10.00")
    assert deliver("tracker", tracker_outbox, system["tracker"], system["accounting inbox"]) == []


def test_a_completion_delivered_twice_pays_once(system):
    popug = auth_service.create_account(
        system["auth"], "popka", "sunflower-seeds-forever", "popka@uberpopug.example"
    )
    deliver(
        "auth", auth_outbox, system["auth"], system["tracker inbox"], system["accounting inbox"]
    )
    with system["tracker"].begin() as session:
        task = tracker_service.create_task(session, popug.account_id, "Feed the parrots")
        tracker_service.complete_task(session, popug.account_id, task["task_id"])
    first = deliver("tracker", tracker_outbox, system["tracker"], system["accounting inbox"])
    applied = applied_ids(system["accounting"])
    again = deliver(
        "tracker", tracker_outbox, system["tracker"], system["accounting inbox"], again=True
    )
    assert all(d.action == "ack" for d in first + again) and len(again) == len(first)
    kinds = [kind for kind, _ in kinds_and_amounts(system["accounting"])]
    assert kinds == ["assign_fee", "completion_reward"]
    assert applied_ids(system["accounting"]) == applied  # the redelivery was absorbed by the inbox


def applied_ids(uow: UnitOfWork) -> set[str]:
    with uow.read() as session:
        return set(session.scalars(select(accounting_inbox.c.event_id)))


def test_an_event_that_is_not_from_the_producer_it_names_is_refused_as_on_the_broker(system):
    auth_service.create_account(
        system["auth"], "kesha", "sunflower-seeds-forever", "k@uberpopug.example"
    )
    # auth's account.created, but published as if by the tracker's broker user
    forged = deliver("tracker", auth_outbox, system["auth"], system["accounting inbox"])
    assert forged == []  # accounting does not subscribe to the tracker's account events
    forged = deliver(
        "auth",
        auth_outbox,
        system["auth"],
        system["accounting inbox"],
        again=True,
        as_user="ates-tracker",
    )
    assert [d.action for d in forged] == ["dead"]
    assert "untrusted producer" in forged[0].outcome.reason
    assert applied_ids(system["accounting"]) == set()
