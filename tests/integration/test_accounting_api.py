"""Accounting's REST API on a real database, with tokens checked by the real verifier."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounting import domain
from ates import clock
from ates.config import load_settings
from tests.integration.accounting_fixtures import (
    AccountingDb,
    account_created,
    task_assigned,
    task_completed,
    task_snapshot,
)

ROLES = ["admin", "manager", "accountant", "boss", "developer"]
SEE_EVERYONE = {"admin", "accountant"}
EVERYONE = set(ROLES)
PRICE = domain.Price(Decimal("12.00"), Decimal("31.00"))


@pytest.fixture
def app(service_app, monkeypatch):
    monkeypatch.setattr(domain, "draw_price", lambda *args: PRICE)
    return service_app("accounting")


@pytest.fixture
def db(app):
    found = AccountingDb(app.config["ATES"].database_url)
    yield found
    found.dispose()


@pytest.fixture
def popugs(db):
    """One account of every role, known from auth's events; the developer did one task and took another."""
    found = {role: str(uuid.uuid4()) for role in ROLES}
    db.apply(*[account_created(account_id, role) for role, account_id in found.items()])
    done, taken = str(uuid.uuid4()), str(uuid.uuid4())
    db.apply(
        task_snapshot(done, found["developer"]),
        task_assigned(done, found["developer"]),
        task_completed(done, found["developer"]),
        task_assigned(taken, found["developer"]),
    )
    return found


def today() -> date:
    return domain.local_date(clock.utcnow(), load_settings("accounting", {}).timezone)


def as_role(issuer, popugs, role):
    return issuer.headers(popugs[role], role) if role else {}


@pytest.mark.parametrize("role", ROLES + [None])
@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("get", "/api/me/account", EVERYONE),
        ("get", "/api/me/transactions", EVERYONE),
        (
            "get",
            "/api/billing-days/current",
            SEE_EVERYONE,
        ),  # its figures hold the management income
        ("get", "/api/accounts", SEE_EVERYONE),
        ("get", "/api/accounts/{developer}/transactions", SEE_EVERYONE),
        ("get", "/api/income", SEE_EVERYONE),
        ("get", "/api/billing-days/{today}", SEE_EVERYONE),
        ("post", "/api/billing-days/{today}/close", SEE_EVERYONE),
    ],
)
def test_who_may_call_what(client, issuer, popugs, role, method, path, allowed):
    path = path.format(developer=popugs["developer"], today=today().isoformat())
    response = getattr(client, method)(path, headers=as_role(issuer, popugs, role))
    if role is None:
        assert response.status_code == 401 and response.json["error"] == "invalid_token"
    elif role in allowed:
        assert response.status_code == 200, response.json
    else:
        assert response.status_code == 403 and response.json["error"] == "forbidden"


def test_my_balance_and_my_audit_log_of_the_open_day(client, issuer, popugs):
    headers = as_role(issuer, popugs, "developer")
    assert client.get("/api/me/account", headers=headers).json == {
        "account_id": popugs["developer"],
        "balance": "7.00",
    }  # -12 + 31 - 12
    log = client.get("/api/me/transactions", headers=headers).json
    assert log["date"] == today().isoformat()
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in log["transactions"]] == [
        ("assign_fee", "-12.00", "-12.00"),
        ("completion_reward", "31.00", "19.00"),
        ("assign_fee", "-12.00", "7.00"),
    ]
    first = log["transactions"][0]
    assert set(first) == {
        "transaction_id",
        "kind",
        "amount",
        "balance_after",
        "billing_date",
        "applied_at",
        "task",
    }
    assert first["applied_at"].endswith("Z") and first["billing_date"] == log["date"]
    assert first["task"] == {
        "task_id": first["task"]["task_id"],
        "jira_id": "UBERPOP-42",
        "title": "Change the green",
        "description": "greener",
    }
    assert log["transactions"][2]["task"]["title"] is None  # no details yet: "unknown task"


def test_a_popug_never_seen_has_a_zero_balance_and_an_empty_log(client, issuer):
    stranger = str(uuid.uuid4())
    headers = issuer.headers(stranger, "developer")
    assert client.get("/api/me/account", headers=headers).json == {
        "account_id": stranger,
        "balance": "0.00",
    }
    assert (
        client.get("/api/me/transactions?date=2026-03-01", headers=headers).json["transactions"]
        == []
    )


def test_admins_see_every_account_with_its_balance(client, issuer, popugs, db):
    unknown = str(uuid.uuid4())
    db.apply(task_assigned(str(uuid.uuid4()), unknown))  # money moved before auth's event arrived
    found = client.get("/api/accounts", headers=as_role(issuer, popugs, "accountant")).json[
        "accounts"
    ]
    by_id = {account["account_id"]: account for account in found}
    assert set(by_id) == set(popugs.values()) | {unknown}
    assert (
        by_id[popugs["developer"]]["balance"] == "7.00"
        and by_id[popugs["boss"]]["balance"] == "0.00"
    )
    assert (
        by_id[popugs["developer"]]["role"] == "developer" and by_id[popugs["developer"]]["username"]
    )
    assert by_id[unknown]["balance"] == "-12.00" and by_id[unknown]["username"] is None
    log = client.get(
        f"/api/accounts/{popugs['developer']}/transactions",
        headers=as_role(issuer, popugs, "admin"),
    ).json
    assert len(log["transactions"]) == 3


def test_accounts_by_role_and_sign_a_page_at_a_time(client, issuer, popugs, db):
    headers = as_role(issuer, popugs, "admin")
    owing = str(uuid.uuid4())
    db.apply(account_created(owing, "developer"), task_assigned(str(uuid.uuid4()), owing))

    def ids(query):
        answer = client.get(f"/api/accounts?{query}", headers=headers)
        assert answer.status_code == 200, answer.json
        return [account["account_id"] for account in answer.json["accounts"]], answer.json["next"]

    assert set(ids("role=developer")[0]) == {popugs["developer"], owing}
    assert ids("balance=negative")[0] == [owing]
    assert ids("balance=positive")[0] == [popugs["developer"]]
    assert popugs["developer"] not in ids("balance=zero")[0] and owing not in ids("balance=zero")[0]
    everyone, last = ids("")
    assert last is None and len(everyone) == len(ROLES) + 1
    pages, after = [], None
    while True:
        page, after = ids("limit=2" + (f"&after={after}" if after else ""))
        pages.append(page)
        if after is None:
            break
    assert [len(page) for page in pages] == [2, 2, 2] and sum(pages, []) == everyone


def test_a_tasks_prices_for_who_may_see_them(client, issuer, popugs, db):
    taken = str(uuid.uuid4())
    db.apply(task_assigned(taken, popugs["developer"]))  # its fee touched the developer's balance
    for role, status in [("admin", 200), ("accountant", 200), ("manager", 200), ("boss", 403)]:
        answer = client.get(f"/api/tasks/{taken}", headers=as_role(issuer, popugs, role))
        assert answer.status_code == status, (role, answer.json)
    mine = client.get(f"/api/tasks/{taken}", headers=as_role(issuer, popugs, "developer")).json
    assert (mine["assign_fee"], mine["completion_reward"], mine["rewarded"]) == (
        "12.00",
        "31.00",
        False,
    )


def test_income_per_day_covers_every_day_of_the_range(client, issuer, popugs):
    headers = as_role(issuer, popugs, "admin")
    first, last = today() - timedelta(days=2), today()
    answer = client.get(f"/api/income?from={first}&to={last}", headers=headers).json
    assert answer == {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": [
            {"date": (first + timedelta(days=n)).isoformat(), "management_income": "0.00"}
            for n in range(2)
        ]
        + [{"date": last.isoformat(), "management_income": "-7.00"}],
    }
    assert len(client.get("/api/income", headers=headers).json["days"]) == 30


def test_closing_the_open_day_by_hand_pays_out_and_a_second_close_changes_nothing(
    client, issuer, popugs, db
):
    headers = as_role(issuer, popugs, "accountant")
    day = today().isoformat()
    closed = client.post(f"/api/billing-days/{day}/close", headers=headers)
    assert closed.status_code == 200
    assert closed.json == {
        "billing_date": day,
        "status": "closed",
        "payouts": 1,
        "total_paid": "7.00",
        "management_income": "-7.00",
    }
    assert client.post(f"/api/billing-days/{day}/close", headers=headers).json == closed.json
    assert len(db.payouts()) == 1
    me = as_role(issuer, popugs, "developer")
    assert client.get("/api/me/account", headers=me).json["balance"] == "0.00"
    assert (
        client.get("/api/billing-days/current", headers=headers).json["billing_date"]
        == (today() + timedelta(days=1)).isoformat()
    )
    log = client.get(f"/api/me/transactions?date={day}", headers=me).json["transactions"]
    assert (log[-1]["kind"], log[-1]["amount"], log[-1]["balance_after"], log[-1]["task"]) == (
        "payout",
        "-7.00",
        "0.00",
        None,
    )


@pytest.mark.parametrize("role", ["developer", "manager", "boss"])
def test_only_admins_and_accountants_read_the_open_days_management_income(
    client, issuer, popugs, role
):
    refused = client.get("/api/billing-days/current", headers=as_role(issuer, popugs, role))
    assert refused.status_code == 403 and "management_income" not in refused.text
    shown = client.get("/api/billing-days/current", headers=as_role(issuer, popugs, "accountant"))
    assert shown.json["management_income"] == "-7.00"


@pytest.mark.parametrize(
    "method, path, status, error",
    [
        ("post", "/api/billing-days/2026-3-1/close", 400, "invalid_input"),
        ("post", "/api/billing-days/yesterday/close", 400, "invalid_input"),
        ("post", "/api/billing-days/{tomorrow}/close", 409, "not_open_yet"),
        ("post", "/api/billing-days/2001-01-01/close", 404, "not_found"),
        ("get", "/api/billing-days/2001-01-01", 404, "not_found"),
        ("get", "/api/me/transactions?date=2026-02-30", 400, "invalid_input"),
        ("get", "/api/me/transactions?date=", 400, "invalid_input"),
        ("get", "/api/accounts/not-an-id/transactions", 400, "invalid_input"),
        ("get", "/api/income?from=2026-03-02&to=2026-03-01", 400, "invalid_input"),
        ("get", "/api/income?from=2024-01-01&to=2026-03-01", 400, "invalid_input"),
        ("get", "/api/income?to=nope", 400, "invalid_input"),
        ("get", "/api/accounts?role=parrot", 400, "invalid_input"),
        ("get", "/api/accounts?balance=some", 400, "invalid_input"),
        ("get", "/api/accounts?limit=0", 400, "invalid_input"),
        ("get", "/api/accounts?after=nobody", 400, "invalid_input"),
        ("get", f"/api/accounts?after={uuid.uuid4()}", 400, "invalid_input"),
        ("get", "/api/tasks/not-a-task", 400, "invalid_input"),
        ("get", f"/api/tasks/{uuid.uuid4()}", 404, "not_found"),
    ],
)
def test_nonsense_gets_a_clear_json_error_never_a_500(
    client, issuer, popugs, method, path, status, error
):
    path = path.format(tomorrow=(today() + timedelta(days=1)).isoformat())
    response = getattr(client, method)(path, headers=as_role(issuer, popugs, "admin"))
    assert response.status_code == status, response.json
    assert response.json["error"] == error and response.json["message"]
