"""Auth's accounts API on a real (SQLite) database: who may call what, what bad input gets, and the
events every change leaves in the outbox."""

import json
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from ates import migrations
from ates.config import load_settings
from ates.schemas import registry
from auth import keys, service
from auth.app import create_app
from auth.models import outbox
from auth.settings import load_auth_settings

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "http://localhost"
ROLES = ("admin", "manager", "accountant", "boss", "developer")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    var = tmp_path_factory.mktemp("auth-api")
    env = {"ATES_VAR_DIR": str(var), "ATES_AUTH_ISSUER": ISSUER}
    migrations.upgrade(ROOT / "auth" / "migrations", f"sqlite:///{var / 'auth.db'}")
    return create_app(load_settings("auth", env), load_auth_settings(env))


@pytest.fixture(scope="module")
def uow(app):
    return app.extensions["ates.uow"]


@pytest.fixture(scope="module")
def people(uow):
    """One account per role (the admin is the seeded one)."""
    found = {"admin": next(a for a in service.list_accounts(uow) if a.username == "admin")}
    for role in ROLES[1:]:
        found[role] = service.create_account(
            uow, f"a-{role}", "password-1", f"{role}@uberpopug.example", role.title(), role
        )
    return found


def access_token(uow, account, typ="at+jwt", **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": account.account_id,
        "aud": "ates-api",
        "exp": now + 900,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": "ates-cli",
        "scope": "openid ates-api",
        "role": account.role,
        "preferred_username": account.username,
        **overrides,
    }
    return keys.sign(keys.signing_key(uow), claims, typ=typ)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def events_of(uow, account_id: str) -> list[dict]:
    with uow.read() as session:
        bodies = session.scalars(select(outbox.c.body).order_by(outbox.c.id)).all()
    return [
        message
        for message in map(json.loads, bodies)
        if message["data"]["account_id"] == account_id
    ]


ENDPOINTS = {
    "list": ("get", "/api/accounts", None),
    "read": ("get", "/api/accounts/{target}", None),
    "create": (
        "post",
        "/api/accounts",
        {
            "username": "new-{caller}",
            "password": "password-1",
            "email": "new@uberpopug.example",
            "full_name": "New",
            "role": "boss",
        },
    ),
    "change": ("patch", "/api/accounts/{target}", {"full_name": "Changed by {caller}"}),
    "deactivate": ("delete", "/api/accounts/{target}", None),
}
ADMIN_STATUS = {"list": 200, "read": 200, "create": 201, "change": 200, "deactivate": 200}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("caller", [*ROLES, "no token"])
def test_only_admins_may_use_the_accounts_api(app, uow, people, caller, endpoint):
    target = service.create_account(
        uow, f"t-{uuid.uuid4().hex[:10]}", "password-1", "t@uberpopug.example"
    )
    method, path, body = ENDPOINTS[endpoint]
    headers = {} if caller == "no token" else bearer(access_token(uow, people[caller]))
    if body:
        body = {key: value.format(caller=caller.replace(" ", "-")) for key, value in body.items()}
    response = getattr(app.test_client(), method)(
        path.format(target=target.account_id), json=body, headers=headers
    )
    expected = {"admin": ADMIN_STATUS[endpoint], "no token": 401}.get(caller, 403)
    assert response.status_code == expected, response.json
    if expected == 401:
        assert response.json["error"] == "invalid_token" and response.headers[
            "WWW-Authenticate"
        ].startswith("Bearer")
    if expected == 403:
        assert response.json["error"] == "forbidden"


@pytest.mark.parametrize(
    "problem, token",
    [
        ("expired", lambda s, a: access_token(s, a, exp=int(time.time()) - 120)),
        ("another issuer", lambda s, a: access_token(s, a, iss="http://evil.example")),
        ("another audience", lambda s, a: access_token(s, a, aud="someone-else")),
        ("not an access token", lambda s, a: access_token(s, a, typ="JWT")),
        ("forged", lambda s, a: access_token(s, a)[:-8] + "AAAAAAAA"),
        (
            "unsigned",
            lambda s, a: (
                "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + access_token(s, a).split(".")[1] + "."
            ),
        ),
        ("garbage", lambda s, a: "not-a-token"),
    ],
)
def test_a_bad_token_is_refused_with_401(app, uow, people, problem, token):
    response = app.test_client().get("/api/accounts", headers=bearer(token(uow, people["admin"])))
    assert response.status_code == 401, problem
    assert response.json["error"] == "invalid_token"


def test_the_account_list_shows_every_account_in_the_contract_shape(app, uow, people):
    response = app.test_client().get(
        "/api/accounts", headers=bearer(access_token(uow, people["admin"]))
    )
    accounts = {account["username"]: account for account in response.json["accounts"]}
    assert accounts["a-boss"] == {
        "account_id": people["boss"].account_id,
        "username": "a-boss",
        "email": "boss@uberpopug.example",
        "full_name": "Boss",
        "role": "boss",
        "active": True,
    }


def test_creating_changing_and_deactivating_leave_their_events_in_the_outbox(app, uow, people):
    client, headers = app.test_client(), bearer(access_token(uow, people["admin"]))
    created = client.post(
        "/api/accounts",
        headers=headers,
        json={
            "username": "Kesha",
            "password": "sunflower-seeds",
            "email": "kesha@uberpopug.example",
            "full_name": "Kesha Popugaev",
            "role": "developer",
        },
    )
    assert created.status_code == 201
    account = created.json
    assert account["username"] == "kesha" and account["active"] is True
    path = f"/api/accounts/{account['account_id']}"
    assert client.patch(path, headers=headers, json={"role": "manager"}).json["role"] == "manager"
    assert (
        client.patch(path, headers=headers, json={"email": "k@uberpopug.example"}).status_code
        == 200
    )
    assert client.delete(path, headers=headers).json["active"] is False
    assert (
        client.delete(path, headers=headers).status_code == 200
    )  # deactivating twice changes nothing

    events = events_of(uow, account["account_id"])
    for message in events:
        registry().validate(message)
    assert [(m["type"], m["data"]["version"]) for m in events] == [
        ("account.created", 1),
        ("account.role_changed", 2),
        ("account.updated", 2),
        ("account.updated", 3),
        ("account.deactivated", 4),
        ("account.updated", 4),
    ]
    assert events[1]["data"] == {
        "account_id": account["account_id"],
        "role": "manager",
        "previous_role": "developer",
        "version": 2,
    }
    assert (
        events[-1]["data"]["active"] is False
        and events[-1]["data"]["email"] == "k@uberpopug.example"
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "username"),
        ({"username": "ok-name", "password": "short", "email": "a@b.example"}, "password"),
        (
            {
                "username": "ok-name",
                "password": "password-1",
                "email": "a@b.example",
                "role": "parrot",
            },
            "role",
        ),
        (
            {
                "username": "ok-name",
                "password": "password-1",
                "email": "a@b.example",
                "colour": "green",
            },
            "colour",
        ),
        ({"username": ["x"], "password": "password-1", "email": "a@b.example"}, "username"),
    ],
)
def test_bad_fields_get_400_naming_them(app, uow, people, body, field):
    response = app.test_client().post(
        "/api/accounts", json=body, headers=bearer(access_token(uow, people["admin"]))
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request" and field in response.json["fields"]


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"username": "no spaces", "password": "password-1", "email": "a@b.example"}, "3 to 64"),
        (
            {"username": "ok-name", "password": "password-1", "email": "not-an-email"},
            "email address",
        ),
        ({"username": "ok-name", "password": "12345678", "email": "a@b.example"}, "too common"),
    ],
)
def test_input_against_the_account_rules_gets_400_with_the_rule(app, uow, people, body, reason):
    response = app.test_client().post(
        "/api/accounts", json=body, headers=bearer(access_token(uow, people["admin"]))
    )
    assert response.status_code == 400 and reason in response.json["message"]


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("username=x", "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_that_is_not_a_json_object_gets_400(app, uow, people, data, content_type):
    response = app.test_client().post(
        "/api/accounts",
        data=data,
        content_type=content_type,
        headers=bearer(access_token(uow, people["admin"])),
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_a_taken_username_gets_409(app, uow, people):
    response = app.test_client().post(
        "/api/accounts",
        headers=bearer(access_token(uow, people["admin"])),
        json={"username": "a-boss", "password": "password-1", "email": "b@uberpopug.example"},
    )
    assert response.status_code == 409 and response.json["error"] == "conflict"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_account_gets_404(app, uow, people, method):
    response = getattr(app.test_client(), method)(
        f"/api/accounts/{uuid.uuid4()}",
        json={"full_name": "x"},
        headers=bearer(access_token(uow, people["admin"])),
    )
    assert response.status_code == 404 and response.json["error"] == "not_found"


@pytest.mark.parametrize("body", [{"active": "no"}, {"role": None}, {"email": 5}])
def test_a_bad_change_gets_400(app, uow, people, body):
    response = app.test_client().patch(
        f"/api/accounts/{people['boss'].account_id}",
        json=body,
        headers=bearer(access_token(uow, people["admin"])),
    )
    assert response.status_code == 400


def test_an_admin_cannot_deactivate_or_demote_themselves(app, uow, people):
    admin = people["admin"]
    client, headers = app.test_client(), bearer(access_token(uow, admin))
    assert client.delete(f"/api/accounts/{admin.account_id}", headers=headers).status_code == 400
    response = client.patch(
        f"/api/accounts/{admin.account_id}", headers=headers, json={"role": "boss"}
    )
    assert response.status_code == 400 and "your own role" in response.json["message"]


def test_a_token_of_a_deactivated_or_demoted_account_stops_working_at_once(app, uow, people):
    victim = service.create_account(
        uow, "soon-gone", "password-1", "g@uberpopug.example", role="admin"
    )
    token = access_token(uow, victim)
    client = app.test_client()
    assert client.get("/api/accounts", headers=bearer(token)).status_code == 200
    service.change_account(
        uow, victim.account_id, service.AccountChange(role="boss"), people["admin"].account_id
    )
    assert (
        client.get("/api/accounts", headers=bearer(token)).status_code == 403
    )  # the database's role wins
    service.deactivate_account(uow, victim.account_id, people["admin"].account_id)
    assert client.get("/api/accounts", headers=bearer(token)).status_code == 401


def test_the_first_start_made_exactly_one_admin_with_its_event(app, uow):
    assert service.ensure_admin(uow, "admin") is False  # a second start changes nothing
    admins = [account for account in service.list_accounts(uow) if account.username == "admin"]
    assert len(admins) == 1 and admins[0].role == "admin"
    assert [message["type"] for message in events_of(uow, admins[0].account_id)] == [
        "account.created"
    ]


def test_an_account_created_twice_with_one_idempotency_key_is_created_once(app, uow, people):
    """A retried POST /api/accounts (ates/idempotency.py): the first answer again, one account,
    one account.created; the same key for another body is refused."""
    client = app.test_client()
    headers = {
        **bearer(access_token(uow, people["admin"])),
        "Idempotency-Key": "hire-kesha-once",
    }
    body = {
        "username": "kesha-once",
        "password": "a long enough password",
        "email": "kesha-once@uberpopug.example",
        "full_name": "Kesha Once",
        "role": "developer",
    }
    first = client.post("/api/accounts", json=body, headers=headers)
    again = client.post("/api/accounts", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.json
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert [e["type"] for e in events_of(uow, first.json["account_id"])] == ["account.created"]
    other = client.post("/api/accounts", json={**body, "username": "kesha-twice"}, headers=headers)
    assert other.status_code == 422
