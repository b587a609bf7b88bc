"""The gateway's accounting pages, rendered from the real accounting service: its Flask app on a
real database, served over HTTP on a thread, called by the gateway with the popug's token."""

import re
import threading
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from werkzeug.serving import make_server

from accounting import domain
from accounting.app import create_app as create_accounting
from ates import clock, tokens
from ates.config import load_settings
from gateway.app import create_app as create_gateway
from tests.integration.accounting_fixtures import (
    AccountingDb,
    account_created,
    task_assigned,
    task_completed,
    task_created_v1,
)
from tests.issuer import StandInIssuer

ROLES = ["admin", "manager", "accountant", "boss", "developer"]


@pytest.fixture(scope="module")
def issuer():
    return StandInIssuer()


@pytest.fixture
def accounting(tmp_path, issuer, monkeypatch):
    """Accounting's web process on a free port; yields its database and its URL."""
    monkeypatch.setattr(
        domain, "draw_price", lambda *args: domain.Price(Decimal("12.00"), Decimal("31.00"))
    )
    app = create_accounting(load_settings("accounting", {"ATES_VAR_DIR": str(tmp_path)}))
    tokens.init_app(app, issuer.verifier())
    app.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    db = AccountingDb(app.config["ATES"].database_url)
    yield db, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    db.dispose()


@pytest.fixture
def gateway(accounting):
    _db, url = accounting
    return create_gateway(config={"BACKEND_URLS": {"accounting": url}})


def signed_in(gateway, issuer, role: str, account_id: str | None = None):
    client = gateway.test_client()
    account_id = account_id or str(uuid.uuid4())
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = account_id, True
        session["account"] = {"account_id": account_id, "username": f"{role}-popug", "role": role}
        session["sso_tokens"] = {
            "access_token": issuer.token(account_id, role),
            "refresh_token": None,
            "expires_at": int(time.time()) + 900,
        }
    return client


def kesha_worked(db) -> str:
    """Kesha took two tasks and completed one; the second task's details never arrived."""
    kesha, done, taken = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    db.apply(account_created(kesha, email="kesha@uberpopug.example"))
    db.apply(
        task_created_v1(done, kesha, "[UBERPOP-7] — Change the green"),
        task_assigned(done, kesha),
        task_completed(done, kesha),
        task_assigned(taken, kesha),
    )
    return kesha


def today() -> str:
    return domain.local_date(clock.utcnow(), load_settings("accounting", {}).timezone).isoformat()


def test_a_popug_sees_its_balance_and_the_audit_log_of_a_chosen_day(accounting, gateway, issuer):
    kesha = kesha_worked(accounting[0])
    client = signed_in(gateway, issuer, "developer", kesha)
    html = client.get("/accounting").get_data(as_text=True)
    assert 'Balance now: <strong class="money">$7.00</strong>' in html
    log = re.search(r'<table id="audit-log">.*?</table>', html, re.DOTALL).group(0)
    assert log.count("<tr>") == 4
    assert "UBERPOP-7" in log and "Change the green" in log and "unknown task" in log
    assert (
        "\u2212$12.00" in log
        and "$31.00" in log
        and "$-" not in log
        and f'value="{today()}"' in html
    )
    yesterday = client.get("/accounting?date=2026-03-01").get_data(as_text=True)
    assert "No transactions on 2026-03-01" in yesterday
    nonsense = client.get("/accounting?date=2026-02-30", follow_redirects=True).get_data(
        as_text=True
    )
    assert "not a day of the calendar" in nonsense


def test_an_accountant_sees_every_account_its_log_and_the_income(accounting, gateway, issuer):
    kesha = kesha_worked(accounting[0])
    client = signed_in(gateway, issuer, "accountant")
    accounts = client.get("/accounting/accounts").get_data(as_text=True)
    assert f"Popug {kesha[:6]}" in accounts and "$7.00" in accounts
    log = client.get(f"/accounting/accounts/{kesha}").get_data(as_text=True)
    assert "UBERPOP-7" in log and "Popug" in log
    income = client.get("/accounting/income").get_data(as_text=True)
    rows = re.search(r'<table id="income">.*?</table>', income, re.DOTALL).group(0)
    assert rows.count("<tr>") == 15 and f"<td>{today()}</td>" in rows and "\u2212$7.00" in rows


def test_the_close_day_button_pays_out_and_says_so(accounting, gateway, issuer):
    db, _url = accounting
    kesha = kesha_worked(db)
    client = signed_in(gateway, issuer, "admin")
    page = client.get("/accounting/income").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    action = re.search(r'<form method="post" action="([^"]+/close)"', page).group(1)
    assert client.post(action, data={}).status_code == 400  # no CSRF token, no close
    done = client.post(action, data={"csrf_token": csrf}, follow_redirects=True).get_data(
        as_text=True
    )
    assert f"Billing day {today()} is closed: 1 payouts, $7.00 paid" in done
    assert [p["account_id"] for p in db.payouts()] == [kesha]
    tomorrow = (date.fromisoformat(today()) + timedelta(days=1)).isoformat()
    assert f"Open billing day: <strong>{tomorrow}</strong>" in done


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "path, allowed",
    [
        ("/accounting", set(ROLES)),
        ("/accounting/accounts", {"admin", "accountant"}),
        ("/accounting/income", {"admin", "accountant"}),
        (f"/accounting/accounts/{uuid.uuid4()}", {"admin", "accountant"}),
    ],
)
def test_who_may_open_which_page(gateway, issuer, role, path, allowed):
    status = signed_in(gateway, issuer, role).get(path).status_code
    assert status == (200 if role in allowed else 403)


def test_signed_out_the_pages_ask_to_sign_in(gateway):
    response = gateway.test_client().get("/accounting")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
