"""`Idempotency-Key` on the writes of tracker, accounting and auth's account API (ates/idempotency.py):
the same request again gets the first answer and changes nothing; another request under the same key
is a 422; one still being worked on a 409; a claim left by a killed process is taken over; a refusal
keeps nothing; keys are each popug's own, cleaned after a day; on SQLite and on PostgreSQL."""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from ates import clock, idempotency
from tests.apps import tracker_accounts
from tracker.models import idempotency_keys, tasks

BODY = {"title": "Water the cactus", "jira_id": "UBERPOP-7"}


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker(request, app_on):
    return app_on(request.param, "tracker")


def task_count(app) -> int:
    with app.extensions["ates.uow"].read() as session:
        return session.scalar(select(func.count()).select_from(tasks))


def post(app, headers, key=None, body=BODY, path="/api/tasks"):
    extra = {idempotency.HEADER: key} if key else {}
    data = json.dumps(body).encode() if body is not None else b""
    kind = {"content_type": "application/json"} if body is not None else {}
    return app.test_client().post(path, data=data, headers={**headers, **extra}, **kind)


def test_the_same_request_again_gets_the_first_answer_and_makes_nothing_new(tracker, issuer):
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    manager = issuer.headers(popugs["manager"], "manager")
    key = str(uuid.uuid4())
    first = post(tracker, manager, key)
    again = post(tracker, manager, key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert task_count(tracker) == 1
    assert post(tracker, manager, str(uuid.uuid4())).status_code == 201  # a new key: a new task
    assert post(tracker, manager).status_code == 201  # no key: as before
    assert task_count(tracker) == 3


def test_another_request_under_the_same_key_is_a_422(tracker, issuer):
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    manager = issuer.headers(popugs["manager"], "manager")
    key = str(uuid.uuid4())
    assert post(tracker, manager, key).status_code == 201
    other = post(tracker, manager, key, body={"title": "Something else"})
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    assert task_count(tracker) == 1


def test_a_request_still_in_flight_is_a_409_and_a_dead_ones_claim_is_taken_over(tracker, issuer):
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    manager = issuer.headers(popugs["manager"], "manager")
    key = str(uuid.uuid4())
    uow = tracker.extensions["ates.uow"]
    with uow.begin() as session:  # another process claimed the key a moment ago, still working
        session.execute(
            insert(idempotency_keys).values(
                account_id=popugs["manager"],
                key=key,
                fingerprint=idempotency.fingerprint_of(
                    "POST", "/api/tasks", b"", json.dumps(BODY).encode()
                ),
                status="in_flight",
                claim=str(uuid.uuid4()),
                leased_until=clock.utcnow() + timedelta(seconds=30),
                created_at=clock.utcnow(),
            )
        )
    busy = post(tracker, manager, key)
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1", busy.json
    assert busy.json["error"] == "request_in_flight" and task_count(tracker) == 0
    with uow.begin() as session:  # the process died: its lease runs out, its change never committed
        session.execute(
            update(idempotency_keys).values(leased_until=clock.utcnow() - timedelta(seconds=1))
        )
    taken_over = post(tracker, manager, key)
    assert taken_over.status_code == 201 and taken_over.json["title"] == BODY["title"]
    assert post(tracker, manager, key).json == taken_over.json and task_count(tracker) == 1


def test_a_refusal_keeps_nothing_and_the_same_request_may_succeed_later(tracker, issuer):
    manager_id = tracker_accounts(tracker, ["manager"])["manager"]
    manager = issuer.headers(manager_id, "manager")
    key = str(uuid.uuid4())
    refused = post(tracker, manager, key)
    assert refused.status_code == 409 and refused.json["error"] == "no_assignee"
    with tracker.extensions["ates.uow"].read() as session:
        assert session.scalar(select(func.count()).select_from(idempotency_keys)) == 0
    tracker_accounts(tracker, ["developer"])
    assert post(tracker, manager, key).status_code == 201 and task_count(tracker) == 1


def test_keys_are_each_popugs_own(tracker, issuer):
    popugs = tracker_accounts(tracker, ["developer", "manager", "admin"])
    key = str(uuid.uuid4())
    mine = post(tracker, issuer.headers(popugs["manager"], "manager"), key)
    theirs = post(tracker, issuer.headers(popugs["admin"], "admin"), key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["task_id"] != theirs.json["task_id"] and task_count(tracker) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "a\tb"])
def test_a_key_that_cannot_be_one_is_a_400(tracker, issuer, key):
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    answer = tracker.test_client().post(
        "/api/tasks",
        json=BODY,
        headers={**issuer.headers(popugs["manager"], "manager"), idempotency.HEADER: key},
    )
    assert answer.status_code == 400 and answer.json["error"] == "invalid_idempotency_key"
    assert task_count(tracker) == 0


def test_a_completion_sent_twice_is_done_once(tracker, issuer):
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    task = post(tracker, issuer.headers(popugs["manager"], "manager")).json
    developer = issuer.headers(popugs["developer"], "developer")
    key = str(uuid.uuid4())
    path = f"/api/tasks/{task['task_id']}/complete"
    first = post(tracker, developer, key, body=None, path=path)
    assert first.status_code == 200, first.json
    again = post(tracker, developer, key, body=None, path=path)
    assert again.status_code == 200 and again.json == first.json  # not 409 "already done"
    assert post(tracker, developer, None, body=None, path=path).status_code == 409


def test_the_worker_cleans_keys_older_than_a_day(tracker, issuer):
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    manager = issuer.headers(popugs["manager"], "manager")
    post(tracker, manager, "old"), post(tracker, manager, "new")
    uow = tracker.extensions["ates.uow"]
    with uow.begin() as session:
        session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == "old")
            .values(created_at=clock.utcnow() - timedelta(hours=25))
        )
    assert idempotency.Cleaner(uow, idempotency_keys).clean() == 1
    with uow.read() as session:
        assert session.scalars(select(idempotency_keys.c.key)).all() == ["new"]


def test_accountings_close_takes_a_key_too(service_app, issuer):
    accounting = service_app("accounting")
    admin = str(uuid.uuid4())
    headers = {**issuer.headers(admin, "admin"), idempotency.HEADER: "close-once"}
    client = accounting.test_client()
    today = client.get("/api/billing-days/current", headers=issuer.headers(admin, "admin")).json
    path = f"/api/billing-days/{today['billing_date']}/close"
    first, again = client.post(path, headers=headers), client.post(path, headers=headers)
    assert first.status_code == again.status_code == 200, first.json
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    from accounting.models import idempotency_keys as accounting_keys

    with accounting.extensions["ates.uow"].read() as session:
        assert session.scalar(select(func.count()).select_from(accounting_keys)) == 1
