"""`ates trace <task id>` against the real processes: the task's path through tracker, accounting and
analytics, each event under the correlation id of the HTTP request that caused it."""

import json
import time
import uuid

import pytest
import requests

from cli import token_store
from cli.main import main as ates
from tests.conftest import eventually
from tests.e2e.system import SERVICES_AND_WORKERS, bearer, running, sign_in_for_tokens

pytestmark = pytest.mark.broker
ADMIN_PASSWORD = "e2e-trace-admin"
PROCESSES = list(SERVICES_AND_WORKERS)


@pytest.fixture(scope="module")
def system(tmp_path_factory, broker_for_module):
    var_dir = tmp_path_factory.mktemp("trace") / "var"
    with running(
        PROCESSES,
        var_dir,
        broker_for_module,
        ATES_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ATES_RETRY_DELAYS_MS="200,400,800,1600",
    ) as urls:
        yield urls


def point_the_cli_at(system, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ATES_CONFIG_DIR", str(tmp_path / "ates"))
    for service in ("tracker", "accounting", "analytics"):
        monkeypatch.setenv(f"ATES_{service.upper()}_URL", system[service])


def store(system, tokens: dict) -> None:
    """Keep the tokens as `ates login` would: with when they expire and where to renew them."""
    discovery = requests.get(
        f"{system['auth']}/.well-known/openid-configuration", timeout=10
    ).json()
    token_store.save(
        {
            **tokens,
            "expires_at": int(time.time()) + int(tokens["expires_in"]),
            "token_endpoint": discovery["token_endpoint"],
        },
        token_store.token_path(),
    )


def test_trace_shows_each_request_and_every_event_it_caused(system, tmp_path, monkeypatch, capsys):
    admin = sign_in_for_tokens(system["auth"], "admin", ADMIN_PASSWORD)
    password = uuid.uuid4().hex
    created = requests.post(
        f"{system['auth']}/api/accounts",
        headers=bearer(admin),
        timeout=10,
        json={
            "username": "tracey",
            "password": password,
            "email": "tracey@uberpopug.example",
            "full_name": "Tracey Popug",
            "role": "developer",
        },
    )
    assert created.status_code == 201, created.text

    def create_task():  # 409 until the tracker has heard of its first assignable popug
        answer = requests.post(
            f"{system['tracker']}/api/tasks",
            json={"title": "Follow the parrot"},
            timeout=10,
            headers={**bearer(admin), "X-Correlation-Id": "trace-create"},
        )
        return answer.json() if answer.status_code == 201 else None

    task = eventually(create_task, message="a task created")
    developer = sign_in_for_tokens(system["auth"], "tracey", password)
    completed = requests.post(
        f"{system['tracker']}/api/tasks/{task['task_id']}/complete",
        timeout=10,
        headers={**bearer(developer), "X-Correlation-Id": "trace-complete"},
    )
    assert (
        completed.status_code == 200 and completed.headers["X-Correlation-Id"] == "trace-complete"
    )

    point_the_cli_at(system, tmp_path, monkeypatch)
    store(system, admin)

    def traced():
        capsys.readouterr()
        assert ates(["trace", task["task_id"], "--json"]) == 0
        found = json.loads(capsys.readouterr().out)
        everywhere = len(found["events"]) == 8 and all(
            event["published_at"]
            and "analytics" in event["applied"]
            and ("accounting" in event["applied"]) == (event["service"] == "tracker")
            for event in found["events"]
        )
        return found if everywhere else None

    found = eventually(
        traced, timeout=60, interval=0.5, message="every event published and applied everywhere"
    )

    by_request = {}
    for event in found["events"]:
        by_request.setdefault(event["correlation_id"], []).append(
            f"{event['service']} {event['type']}"
        )
    assert {key: sorted(value) for key, value in by_request.items()} == {
        "trace-create": [
            "accounting task.priced",
            "accounting transaction.applied",
            "tracker task.assigned",
            "tracker task.created",
            "tracker task.created",
        ],
        "trace-complete": [
            "accounting transaction.applied",
            "tracker task.completed",
            "tracker task.updated",
        ],
    }

    assert ates(["trace", task["task_id"]]) == 0
    text = capsys.readouterr().out
    assert f"Task {task['task_id']}: 8 events, 2 correlation ids" in text
    assert text.index("correlation trace-create") < text.index("correlation trace-complete")
    applied = [
        line for line in text.splitlines() if "applied by" in line
    ]  # consumers in time order
    assert any("accounting" in line for line in applied) and all(
        "analytics" in line for line in applied
    )


def test_trace_needs_an_admin(system, tmp_path, monkeypatch, capsys):
    password = uuid.uuid4().hex
    admin = sign_in_for_tokens(system["auth"], "admin", ADMIN_PASSWORD)
    requests.post(
        f"{system['auth']}/api/accounts",
        headers=bearer(admin),
        timeout=10,
        json={
            "username": "nosy",
            "password": password,
            "email": "nosy@uberpopug.example",
            "full_name": "Nosy Popug",
            "role": "manager",
        },
    ).raise_for_status()
    point_the_cli_at(system, tmp_path, monkeypatch)
    store(system, sign_in_for_tokens(system["auth"], "nosy", password))
    assert ates(["trace", str(uuid.uuid4())]) == 1
    assert "needs an admin" in capsys.readouterr().err
