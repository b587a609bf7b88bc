"""The tracker's REST API on a real database, with tokens checked by the real verifier."""

import uuid
from pathlib import Path

import pytest

from tests.apps import tracker_accounts

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["admin", "manager", "accountant", "boss", "developer"]


@pytest.fixture
def app(service_app):
    return service_app("tracker")


@pytest.fixture
def popugs(app):
    """One account of every role; the developer, accountant and boss are assignable."""
    return tracker_accounts(app, ROLES)


def as_role(issuer, popugs, role):
    return issuer.headers(popugs[role], role) if role else {}


@pytest.mark.parametrize("role", ROLES + [None])
@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("post", "/api/tasks", set(ROLES)),
        ("get", "/api/tasks?scope=mine", set(ROLES)),
        ("get", "/api/tasks?scope=all", {"admin", "manager"}),
        ("post", "/api/reassignments", {"admin", "manager"}),
    ],
)
def test_who_may_call_what(client, issuer, popugs, role, method, path, allowed):
    response = getattr(client, method)(
        path, json={"title": "Feed the parrots"}, headers=as_role(issuer, popugs, role)
    )
    if role is None:
        assert response.status_code == 401 and response.json["error"] == "invalid_token"
    elif role in allowed:
        assert response.status_code in (200, 201, 202), response.json
    else:
        assert response.status_code == 403 and response.json["error"] == "forbidden"


def test_created_task_has_the_spec_shape_and_the_old_title_form_is_split(client, issuer, popugs):
    response = client.post(
        "/api/tasks",
        json={"title": "[UBERPOP-42] — Change the green", "description": "paint"},
        headers=as_role(issuer, popugs, "manager"),
    )
    assert response.status_code == 201
    task = response.json
    assert set(task) == {
        "task_id",
        "jira_id",
        "title",
        "description",
        "status",
        "assignee_id",
        "assignee",
        "created_at",
        "completed_at",
    }
    role = next(role for role, account in popugs.items() if account == task["assignee_id"])
    assert task["assignee"] == {  # by name too, so no page shows a bare id
        "account_id": task["assignee_id"],
        "username": role,
        "full_name": f"{role.title()} Popug",
        "role": role,
        "active": True,
    }
    assert (task["jira_id"], task["title"], task["status"], task["completed_at"]) == (
        "UBERPOP-42",
        "Change the green",
        "open",
        None,
    )
    assert task["assignee_id"] in {popugs["developer"], popugs["accountant"], popugs["boss"]}
    assert task["created_at"].endswith("Z")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "a [b]"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "jira_id": "nope"}, "jira_id"),
        ({"title": "ok", "colour": "green"}, "colour"),
        ({"title": 42}, "title"),
        ([], "body"),
    ],
)
def test_nonsense_gets_a_clear_400_and_stores_nothing(client, issuer, popugs, body, field):
    headers = as_role(issuer, popugs, "developer")
    response = client.post("/api/tasks", json=body, headers=headers)
    assert response.status_code == 400, response.json
    assert response.json["error"] in ("invalid_input", "invalid_task") and response.json["message"]
    assert (
        client.get("/api/tasks?scope=all", headers=as_role(issuer, popugs, "admin")).json["tasks"]
        == []
    )


def test_nobody_to_assign_is_a_409_with_a_message(app, client, issuer):
    admin = str(uuid.uuid4())
    response = client.post(
        "/api/tasks", json={"title": "Feed the parrots"}, headers=issuer.headers(admin, "admin")
    )
    assert response.status_code == 409 and "no popug" in response.json["message"]


def test_assignee_completes_once_and_others_cannot(client, issuer, popugs):
    task = client.post(
        "/api/tasks", json={"title": "Feed the parrots"}, headers=as_role(issuer, popugs, "admin")
    ).json
    assignee_role = next(role for role, account in popugs.items() if account == task["assignee_id"])
    path = f"/api/tasks/{task['task_id']}/complete"
    assert client.post(path, headers=as_role(issuer, popugs, "admin")).status_code == 403
    done = client.post(path, headers=as_role(issuer, popugs, assignee_role))
    assert (
        done.status_code == 200
        and done.json["status"] == "done"
        and done.json["completed_at"].endswith("Z")
    )
    assert client.post(path, headers=as_role(issuer, popugs, assignee_role)).status_code == 409
    shown = client.get(
        f"/api/tasks/{task['task_id']}", headers=as_role(issuer, popugs, assignee_role)
    ).json
    assert [entry["kind"] for entry in shown["activity"]] == ["created", "assigned", "completed"]
    mine = client.get(
        "/api/tasks?scope=mine&status=done", headers=as_role(issuer, popugs, assignee_role)
    ).json
    assert [t["task_id"] for t in mine["tasks"]] == [task["task_id"]]


def test_unknown_task_is_404_and_a_bad_query_is_400(client, issuer, popugs):
    headers = as_role(issuer, popugs, "admin")
    assert client.get(f"/api/tasks/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.post(f"/api/tasks/{uuid.uuid4()}/complete", headers=headers).status_code == 404
    assert client.get("/api/tasks?status=maybe", headers=headers).status_code == 400
    assert client.get("/api/tasks?limit=-1", headers=headers).status_code == 400


def test_reassignment_answers_202_and_its_progress_can_be_read(client, issuer, popugs):
    headers = as_role(issuer, popugs, "manager")
    for n in range(3):
        client.post("/api/tasks", json={"title": f"task {n}"}, headers=headers)
    started = client.post("/api/reassignments", headers=headers)
    assert started.status_code == 202 and started.json["status"] == "running"
    progress = client.get(
        f"/api/reassignments/{started.json['reassignment_id']}", headers=headers
    ).json
    assert (progress["total"], progress["reassigned"]) == (3, 0)


def test_pages_of_every_task_stay_put_while_new_tasks_arrive(client, issuer, popugs):
    headers = as_role(issuer, popugs, "manager")
    made = [
        client.post("/api/tasks", json={"title": f"task {n}"}, headers=headers).json["task_id"]
        for n in range(5)
    ]
    first = client.get("/api/tasks?scope=all&limit=2", headers=headers).json
    assert [t["task_id"] for t in first["tasks"]] == [made[4], made[3]] and first["next"]
    client.post(
        "/api/tasks", json={"title": "a newcomer"}, headers=headers
    )  # would shift an offset
    second = client.get(f"/api/tasks?scope=all&limit=2&before={first['next']}", headers=headers)
    assert [t["task_id"] for t in second.json["tasks"]] == [made[2], made[1]]
    last = client.get(
        f"/api/tasks?scope=all&limit=2&before={second.json['next']}", headers=headers
    ).json
    assert [t["task_id"] for t in last["tasks"]] == [made[0]] and last["next"] is None


def test_every_task_of_one_assignee_and_who_can_be_chosen(client, issuer, popugs):
    headers = as_role(issuer, popugs, "admin")
    for n in range(6):
        client.post("/api/tasks", json={"title": f"task {n}"}, headers=headers)
    developer = popugs["developer"]
    theirs = client.get(f"/api/tasks?scope=all&assignee={developer}", headers=headers).json
    everyone = client.get("/api/tasks?scope=all", headers=headers).json["tasks"]
    assert [t["task_id"] for t in theirs["tasks"]] == [
        t["task_id"] for t in everyone if t["assignee_id"] == developer
    ]
    assert client.get("/api/tasks?scope=all&assignee=kesha", headers=headers).status_code == 400
    people = client.get("/api/accounts", headers=headers).json["accounts"]
    assert [p["full_name"] for p in people] == sorted(f"{role.title()} Popug" for role in ROLES)
    for role in ("developer", "accountant", "boss"):
        refused = client.get("/api/accounts", headers=as_role(issuer, popugs, role))
        assert refused.status_code == 403, role
