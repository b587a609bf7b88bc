"""The gateway's analytics page, for admins only, rendered from the real analytics service (its
Flask app on a real database, reached through the gateway's own API client)."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.app import create_app as create_analytics
from ates import clock, tokens
from ates.config import load_settings
from tests.analytics_events import (
    deliver,
    task_completed,
    task_created_v2,
    task_priced,
    transaction_applied,
)
from tests.apps import gateway_in_front_of, signed_in
from tests.issuer import StandInIssuer

ROLES = ["admin", "manager", "accountant", "boss", "developer"]


@pytest.fixture(scope="module")
def issuer():
    return StandInIssuer()


@pytest.fixture
def analytics(tmp_path, issuer, monkeypatch):
    monkeypatch.setenv("ATES_TIMEZONE", "UTC")
    app = create_analytics(load_settings("analytics", {"ATES_VAR_DIR": str(tmp_path)}))
    tokens.init_app(app, issuer.verifier())
    app.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
    return app


@pytest.fixture
def gateway(analytics, monkeypatch):
    return gateway_in_front_of({"analytics": analytics}, monkeypatch)


def a_busy_week(analytics) -> None:
    now, events = clock.utcnow(), []
    for days_ago, reward in [(0, 27), (0, 24), (2, 39), (20, 40)]:
        task_id = str(uuid.uuid4())
        at = now - timedelta(days=days_ago)
        popug = str(uuid.uuid4())
        events += [
            task_created_v2(task_id, f"Reward {reward}", f"UBERPOP-{reward}", at, popug),
            task_priced(task_id, Decimal(15), Decimal(reward), at),
            task_completed(task_id, popug, at),
            transaction_applied(
                popug, "assign_fee", Decimal(-15), Decimal(-15), task_id, at.date(), at
            ),
        ]
    deliver(analytics.extensions["ates.uow"], events)


def test_an_admin_sees_todays_figures_the_most_expensive_task_and_the_income_chart(
    analytics, gateway, issuer
):
    a_busy_week(analytics)
    page = signed_in(gateway, issuer, "admin").get("/analytics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r"Management income\s*<strong[^>]*>\$30\.00", html)
    assert re.search(r"Popugs below zero now <strong>4</strong>", html)
    assert 'UBERPOP-27 Reward 27</strong>, <span class="money">$27.00</span>' in html  # 27 beats 24
    svg = re.search(r"<svg class=\"chart\".*?</svg>", html, re.DOTALL).group(0)
    assert svg.count("<rect") == 30 and f"{clock.utcnow().date()}: $30.00" in svg


@pytest.mark.parametrize(
    "period, shown, rows",
    [("week", "UBERPOP-39 Reward 39", 7), ("month", "UBERPOP-40 Reward 40", 30)],
)
def test_the_most_expensive_task_of_a_week_or_a_month_with_its_days(
    analytics, gateway, issuer, period, shown, rows
):
    a_busy_week(analytics)
    html = (
        signed_in(gateway, issuer, "admin")
        .get(f"/analytics?period={period}")
        .get_data(as_text=True)
    )
    assert f"{shown}</strong>" in html
    by_day = re.search(r'<table id="by-day">.*?</table>', html, re.DOTALL).group(0)
    assert by_day.count("<tr>") == rows + 1


@pytest.mark.parametrize("role", [role for role in ROLES if role != "admin"])
def test_only_admins_open_the_analytics_page(gateway, issuer, role):
    assert signed_in(gateway, issuer, role).get("/analytics").status_code == 403


def test_signed_out_the_page_asks_to_sign_in(gateway):
    response = gateway.test_client().get("/analytics")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
