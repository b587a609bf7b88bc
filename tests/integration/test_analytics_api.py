"""Analytics' REST API on a real database, with tokens checked by the real verifier: admins only,
the SPEC §8 shapes, the presets, and a clear 400 for every malformed question."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from ates import clock
from tests.analytics_events import (
    deliver,
    seed_002_story,
    task_completed,
    task_created_v2,
    task_priced,
)

ROLES = ["admin", "manager", "accountant", "boss", "developer"]
ENDPOINTS = [
    "/api/summary",
    "/api/summary?date=2026-03-01",
    "/api/most-expensive-task",
    "/api/most-expensive-task?period=month",
    "/api/most-expensive-task?from=2026-03-01&to=2026-03-03",
    "/api/income",
    "/api/income?from=2026-03-01&to=2026-03-03",
]


@pytest.fixture
def app(service_app):
    return service_app("analytics", ATES_TIMEZONE="UTC")  # the day the handlers (deliver) use too


@pytest.fixture
def admin(issuer):
    return issuer.headers(str(uuid.uuid4()), "admin")


def fed(app, events) -> None:
    deliver(app.extensions["ates.uow"], events)


@pytest.mark.parametrize("role", ROLES + [None])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_only_admins_see_analytics(client, issuer, role, path):
    response = client.get(path, headers=issuer.headers(str(uuid.uuid4()), role) if role else {})
    if role is None:
        assert response.status_code == 401 and response.json["error"] == "invalid_token"
    elif role == "admin":
        assert response.status_code == 200, response.json
    else:
        assert response.status_code == 403 and response.json["error"] == "forbidden"


def test_seed_002_through_the_api(app, client, admin):
    fed(app, seed_002_story().events)
    answer = client.get(
        "/api/most-expensive-task?from=2026-02-28&to=2026-03-03", headers=admin
    ).json
    assert (answer["from"], answer["to"], answer["period"]) == ("2026-02-28", "2026-03-03", None)
    assert [(day["date"], day["task"] and day["task"]["reward"]) for day in answer["by_day"]] == [
        ("2026-02-28", None),
        ("2026-03-01", "23.00"),
        ("2026-03-02", "38.00"),
        ("2026-03-03", "28.00"),
    ]
    assert set(answer["task"]) == {"task_id", "jira_id", "title", "reward", "completed_at"}
    assert answer["task"]["reward"] == "38.00" and answer["task"]["completed_at"].endswith("Z")
    assert answer["task"]["title"].startswith("Task ")
    one_day = client.get(
        "/api/most-expensive-task?from=2026-03-03&to=2026-03-03", headers=admin
    ).json
    assert one_day["task"]["reward"] == "28.00" and len(one_day["by_day"]) == 1


def test_summary_and_income_have_the_spec_shapes(app, client, admin):
    story = seed_002_story()
    fed(app, story.events)
    summary = client.get("/api/summary?date=2026-03-02", headers=admin).json
    assert summary == {
        "date": "2026-03-02",
        "management_income": f"{story.income_by_day[date(2026, 3, 2)]:.2f}",
        "negative_balances": story.negative_balances,
    }
    income = client.get("/api/income?from=2026-03-01&to=2026-03-04", headers=admin).json
    assert income["from"] == "2026-03-01" and income["to"] == "2026-03-04"
    assert income["days"] == [
        {
            "date": f"2026-03-0{n}",
            "management_income": f"{story.income_by_day.get(date(2026, 3, n), 0):.2f}",
        }
        for n in range(1, 5)
    ]
    assert income["days"][-1]["management_income"] == "0.00"


def test_a_task_whose_details_have_not_arrived_is_shown_without_a_title(app, client, admin):
    task_id, at = str(uuid.uuid4()), datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    fed(
        app,
        [
            task_priced(task_id, Decimal(10), Decimal(33), at),
            task_completed(task_id, str(uuid.uuid4()), at),
        ],
    )
    task = client.get("/api/most-expensive-task?from=2026-03-01&to=2026-03-01", headers=admin).json[
        "task"
    ]
    assert task == {
        "task_id": task_id,
        "jira_id": None,
        "title": None,
        "reward": "33.00",
        "completed_at": "2026-03-01T12:00:00Z",
    }


def test_presets_end_today_day_week_and_month(app, client, admin):
    today = clock.utcnow().date()
    rewards = {0: 21, 3: 29, 10: 35, 40: 40}  # days ago -> reward
    events = []
    for days_ago, reward in rewards.items():
        task_id, at = (
            str(uuid.uuid4()),
            datetime.combine(today - timedelta(days=days_ago), time(0, 30), UTC),
        )
        events += [
            task_created_v2(task_id, f"{days_ago} days ago", None, at, str(uuid.uuid4())),
            task_priced(task_id, Decimal(10), Decimal(reward), at),
            task_completed(task_id, str(uuid.uuid4()), at),
        ]
    fed(app, events)
    for period, length, reward in [
        ("day", 1, "21.00"),
        ("week", 7, "29.00"),
        ("month", 30, "35.00"),
    ]:
        answer = client.get(f"/api/most-expensive-task?period={period}", headers=admin).json
        assert (answer["period"], len(answer["by_day"]), answer["task"]["reward"]) == (
            period,
            length,
            reward,
        )
        assert (
            answer["to"] == today.isoformat() and answer["by_day"][-1]["date"] == today.isoformat()
        )
    assert client.get("/api/most-expensive-task", headers=admin).json["period"] == "day"
    assert len(client.get("/api/income", headers=admin).json["days"]) == 30
    assert client.get("/api/summary", headers=admin).json["date"] == today.isoformat()


@pytest.mark.parametrize(
    "path",
    [
        "/api/summary?date=2026-13-01",
        "/api/summary?date=yesterday",
        "/api/summary?date=20260301",
        "/api/summary?date=2026-02-30",
        "/api/most-expensive-task?from=2026-03-03&to=2026-03-01",
        "/api/most-expensive-task?from=2025-01-01&to=2026-03-01",
        "/api/most-expensive-task?from=2026-03-01",
        "/api/most-expensive-task?period=year",
        "/api/most-expensive-task?period=week&from=2026-03-01&to=2026-03-02",
        "/api/income?to=2026-03-01",
        "/api/income?from=0001-01-01&to=9999-12-31",
        "/api/income?period=",
    ],
)
def test_a_malformed_question_gets_a_clear_400(client, admin, path):
    response = client.get(path, headers=admin)
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_query" and response.json["message"]


def test_a_whole_year_is_the_longest_range(client, admin):
    assert (
        client.get("/api/income?from=2024-01-01&to=2024-12-31", headers=admin).status_code == 200
    )  # 366 days
    assert client.get("/api/income?from=2024-01-01&to=2025-01-01", headers=admin).status_code == 400
