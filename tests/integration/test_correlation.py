"""A correlation id travels from the HTTP request into every event it causes, over the real broker
(as the CloudEvents attribute and the AMQP property), and into every event those cause."""

import json
import uuid

import pika
import pytest
from sqlalchemy import select

from accounting.handlers import handlers as accounting_handlers
from accounting.models import outbox as accounting_outbox
from ates import clock, correlation
from ates.bus import Consumer, Event, OutboxRelay
from tests.apps import tracker_accounts
from tests.conftest import eventually
from tests.integration.accounting_fixtures import AccountingDb
from tracker.models import outbox as tracker_outbox
from tracker.worker import ReassignmentRunner


@pytest.fixture
def tracker(service_app, issuer):
    """The tracker web app on its own database, an admin and one assignable developer in its replica."""
    app = service_app("tracker")
    popugs = tracker_accounts(app, ("admin", "developer"))
    admin, developer = popugs["admin"], popugs["developer"]
    app.admin_headers = issuer.headers(admin, "admin")
    app.developer_headers = issuer.headers(developer, "developer")
    app.developer_id = developer
    return app


def outbox_messages(uow, table) -> list[dict]:
    with uow.read() as session:
        return [
            json.loads(body) for body in session.scalars(select(table.c.body).order_by(table.c.id))
        ]


def account_created(account_id: str) -> Event:
    return Event(
        "account.created",
        1,
        "/auth",
        {
            "account_id": account_id,
            "username": "popug",
            "email": "popug@uberpopug.example",
            "full_name": "A Popug",
            "role": "developer",
            "active": True,
            "version": 1,
        },
    )


@pytest.mark.broker
def test_the_request_id_reaches_the_events_it_causes_and_the_events_those_cause(
    tracker, tmp_path, broker, start
):
    accounting = AccountingDb(f"sqlite:///{tmp_path / 'accounting.db'}")
    accounting.apply(
        account_created(tracker.developer_id)
    )  # so that the assignment's fee can be charged
    start(Consumer(accounting_handlers, accounting.inbox, broker.url("accounting"), (200, 400)))
    with broker.channel() as channel:  # an observer of the tracker's messages as they travel
        channel.queue_declare("observer", durable=True)
        channel.queue_bind("observer", "tracker.events", "task.#")
    eventually(lambda: _queue_exists(broker, "accounting.tracker"), message="accounting's queue")

    answer = tracker.test_client().post(
        "/api/tasks",
        json={"title": "Feed the parrots"},
        headers={**tracker.admin_headers, "X-Correlation-Id": "abc"},
    )
    assert answer.status_code == 201 and answer.headers["X-Correlation-Id"] == "abc"
    written = outbox_messages(tracker.extensions["ates.uow"], tracker_outbox)
    assert {message["correlationid"] for message in written} == {"abc"} and len(written) == 3

    start(
        OutboxRelay(
            "tracker", tracker_outbox, tracker.extensions["ates.uow"], broker.url("tracker")
        )
    )
    travelled = eventually(
        lambda: (lambda got: got if len(got) == 3 else None)(broker.take_all("observer")),
        message="the task's three messages",
    )
    assert [properties.correlation_id for properties, _ in travelled] == ["abc"] * 3
    assert {json.loads(body)["correlationid"] for _, body in travelled} == {"abc"}

    caused = eventually(
        lambda: (lambda got: got if len(got) == 2 else None)(
            outbox_messages(accounting.uow, accounting_outbox)
        ),
        message="accounting's task.priced and fee",
    )
    assert sorted(message["type"] for message in caused) == ["task.priced", "transaction.applied"]
    assert {message["correlationid"] for message in caused} == {"abc"}
    accounting.dispose()


def test_each_event_of_a_mixed_batch_passes_on_its_own_id(tmp_path):
    accounting = AccountingDb(f"sqlite:///{tmp_path / 'accounting.db'}")
    first, second = task_created("req-1"), task_created("req-2")
    unmarked = task_created(None)
    assert accounting.apply(first, second, unmarked) == ["ack"] * 3
    ids = {
        message["data"]["task_id"]: message["correlationid"]
        for message in outbox_messages(accounting.uow, accounting_outbox)
    }
    assert ids == {
        first.data["task_id"]: "req-1",
        second.data["task_id"]: "req-2",
        unmarked.data["task_id"]: unmarked.id,
    }  # an event without one passes on its own id
    accounting.dispose()


def test_a_reassignment_job_carries_the_id_of_the_request_that_started_it(tracker):
    client = tracker.test_client()
    for title in ("one", "two"):
        client.post("/api/tasks", json={"title": title}, headers=tracker.admin_headers)
    started = client.post(
        "/api/reassignments", headers={**tracker.admin_headers, "X-Correlation-Id": "shuffle-1"}
    )
    assert started.status_code == 202
    ReassignmentRunner(tracker.extensions["ates.uow"]).work_through_running_jobs()
    reassigned = [
        message
        for message in outbox_messages(tracker.extensions["ates.uow"], tracker_outbox)
        if message["type"] == "task.assigned" and message["data"]["reassignment_id"]
    ]
    assert len(reassigned) == 2 and {message["correlationid"] for message in reassigned} == {
        "shuffle-1"
    }
    assert correlation.current() is None


def task_created(correlation_id: str | None) -> Event:
    now = clock.utcnow()
    return Event(
        "task.created",
        2,
        "/tracker",
        {
            "task_id": str(uuid.uuid4()),
            "jira_id": None,
            "title": "Feed the parrots",
            "description": "",
            "status": "open",
            "assignee_id": str(uuid.uuid4()),
            "created_at": now,
            "completed_at": None,
            "version": 1,
        },
        correlation_id=correlation_id,
    )


def _queue_exists(broker, queue: str) -> bool:
    try:
        broker.message_count(queue)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
