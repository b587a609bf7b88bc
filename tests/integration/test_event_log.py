"""The admins' event log of a service (what `ates trace` reads): its own outbox by task, its inbox
by event id."""

import uuid

import pytest

from ates.bus import Inbox
from tests.integration.test_correlation import account_created, tracker  # noqa: F401 - a fixture
from tracker.handlers import handlers as tracker_handlers
from tracker.models import inbox as tracker_inbox


@pytest.fixture
def client(tracker):  # noqa: F811 - the fixture imported above
    return tracker.test_client()


def test_published_lists_this_services_events_about_the_task_in_order(tracker, client):  # noqa: F811
    made = client.post(
        "/api/tasks",
        json={"title": "Feed the parrots"},
        headers={**tracker.admin_headers, "X-Correlation-Id": "req-log"},
    ).json
    client.post("/api/tasks", json={"title": "Another task"}, headers=tracker.admin_headers)
    answer = client.get(
        "/api/events/published",
        query_string={"task_id": made["task_id"]},
        headers=tracker.admin_headers,
    )
    assert answer.status_code == 200
    assert answer.json["service"] == "tracker" and answer.json["task_id"] == made["task_id"]
    assert [
        (event["type"], event["version"], event["correlation_id"], event["published_at"])
        for event in answer.json["events"]
    ] == [
        ("task.created", 2, "req-log", None),
        ("task.created", 1, "req-log", None),
        ("task.assigned", 1, "req-log", None),
    ]


def test_applied_tells_which_of_the_events_this_service_applied(tracker, client):  # noqa: F811
    event = account_created(str(uuid.uuid4()))
    Inbox(tracker_inbox, tracker.extensions["ates.uow"], tracker_handlers).apply([event])
    answer = client.get(
        "/api/events/applied",
        query_string={"ids": f"{event.id},{uuid.uuid4()}"},
        headers=tracker.admin_headers,
    )
    assert answer.status_code == 200
    assert [(found["event_id"], found["type"]) for found in answer.json["events"]] == [
        (event.id, "account.created")
    ]


@pytest.mark.parametrize(
    "path, query",
    [
        ("/api/events/published", {"task_id": "not-a-uuid"}),
        ("/api/events/published", {}),
        ("/api/events/applied", {"ids": ""}),
        ("/api/events/applied", {"ids": f"{uuid.uuid4()},parrot"}),
        ("/api/events/applied", {"ids": ",".join(str(uuid.uuid4()) for _ in range(1001))}),
    ],
)
def test_bad_input_is_a_400(tracker, client, path, query):  # noqa: F811
    answer = client.get(path, query_string=query, headers=tracker.admin_headers)
    assert answer.status_code == 400 and answer.json["error"] == "invalid_input"


@pytest.mark.parametrize("path", ["/api/events/published", "/api/events/applied"])
def test_only_admins_see_the_event_log(tracker, client, path):  # noqa: F811
    query = {"task_id": str(uuid.uuid4()), "ids": str(uuid.uuid4())}
    assert client.get(path, query_string=query).status_code == 401
    assert (
        client.get(path, query_string=query, headers=tracker.developer_headers).status_code == 403
    )
