"""Hostile text at every web service: control characters and lone surrogates in what is stored
(ates/text.py), a NUL anywhere in a request (ates/web.py, ates/json_body.py), and token headers
whose fields have the wrong JSON type at auth (auth/keys.py)."""

import os
import re
import uuid

import pytest

from ates.config import load_settings
from tests.integration.test_web_hardening import ROOT, services  # noqa: F401 — the fixture, one per module

# -- control characters in stored text --------------------------------------------------------------

CONTROL = ["\x00", "\x1b", "\x7f", "\x85", "\n", "\t"]


@pytest.mark.parametrize(
    "field, character",
    [
        (field, character)
        for field in ("title", "description", "jira_id")
        for character in CONTROL
        if not (field == "description" and character in "\n\t")
    ],
)  # a description has lines: see below
def test_a_task_with_a_control_character_is_refused(services, field, character):
    app, headers = services["tracker"]
    task = {"title": "Feed the parrots", "description": "both of them", "jira_id": "UBERPOP-1"}
    task[field] += character + "x"
    answer = app.test_client().post("/api/tasks", json=task, headers=headers())
    assert answer.status_code == 400, answer.json
    assert f"U+{ord(character):04X}" in answer.json["message"] or field == "jira_id", answer.json


def test_a_description_keeps_its_lines(services):
    app, headers = services["tracker"]
    answer = app.test_client().post(
        "/api/tasks",
        headers=headers(),
        json={"title": "Feed the parrots", "description": "first\n\tthen\r\nlast"},
    )
    assert answer.status_code == 201 and answer.json["description"] == "first\n\tthen\r\nlast"


@pytest.mark.parametrize("character", CONTROL, ids=repr)
@pytest.mark.parametrize("field", ["username", "email", "full_name"])
def test_an_account_with_a_control_character_is_refused(services, field, character):
    app, headers = services["auth"]
    account = {
        "username": "kesha",
        "password": "correct horse battery",
        "email": "kesha@uberpopug.example",
        "full_name": "Kesha the Popug",
    }
    account[field] = account[field][:3] + character + account[field][3:]
    answer = app.test_client().post("/api/accounts", json=account, headers=headers())
    assert answer.status_code == 400 and f"U+{ord(character):04X}" in answer.json["message"], (
        answer.json
    )


@pytest.mark.parametrize("character", CONTROL, ids=repr)
def test_a_changed_full_name_with_a_control_character_is_refused(services, character):
    from auth import service as accounts

    app, headers = services["auth"]
    admin = next(
        account
        for account in accounts.list_accounts(app.extensions["ates.uow"])
        if account.username == "admin"
    )
    answer = app.test_client().patch(
        f"/api/accounts/{admin.account_id}",
        headers=headers(),
        json={"full_name": f"The{character}Admin"},
    )
    assert answer.status_code == 400 and f"U+{ord(character):04X}" in answer.json["message"], (
        answer.json
    )


@pytest.mark.parametrize("field", ["username", "email", "full_name"])
def test_sign_up_with_a_control_character_is_refused_on_the_page(services, field):
    app, _ = services["auth"]
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signup").text).group(1)
    form = {
        "csrf_token": token,
        "username": "rio",
        "password": "correct horse battery",
        "email": "rio@uberpopug.example",
        "full_name": "Rio",
    }
    form[field] = form[field][:2] + "\x00" + form[field][2:]
    answer = client.post("/signup", data=form)
    assert answer.status_code == 400 and "U+0000" in answer.text, answer.text[-600:]


@pytest.mark.parametrize(
    "username, status, said", [("ad\x00min", 400, "u+0000"), ("ad\x01min", 200, "wrong")]
)
def test_a_login_with_a_control_character_in_the_username_is_a_plain_refusal_on_postgresql(
    tmp_path, username, status, said
):
    """A failed login is counted under a key made of the username, and PostgreSQL stores no NUL."""
    from ates import migrations
    from auth.app import create_app as create_auth
    from auth.settings import load_auth_settings
    from tests.e2e.system import postgres_databases

    with postgres_databases(f"hardening_{os.getpid()}") as databases:
        env = {
            "ATES_VAR_DIR": str(tmp_path),
            "ATES_AUTH_ISSUER": "http://localhost",
            "AUTH_DATABASE_URL": databases["AUTH_DATABASE_URL"],
        }
        migrations.upgrade(ROOT / "auth" / "migrations", databases["AUTH_DATABASE_URL"])
        app = create_auth(load_settings("auth", env), load_auth_settings(env))
        try:
            client = app.test_client()
            token = re.search(
                r'name="csrf_token" value="([^"]+)"', client.get("/login").text
            ).group(1)
            answer = client.post(
                "/login", data={"csrf_token": token, "username": username, "password": "admin"}
            )
            assert answer.status_code == status and said in answer.text.lower(), answer.text[-500:]
        finally:
            app.extensions["ates.engine"].dispose()


# -- token headers of the wrong type at auth ---------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["kid a list", "kid an object", "kid a number", "alg a list", "typ an object", "header a list"],
)
@pytest.mark.parametrize(
    "method, path",
    [("get", "/oauth/userinfo"), ("post", "/oauth/userinfo"), ("get", "/api/accounts")],
)
def test_a_token_header_field_of_the_wrong_type_is_a_401_at_auth(services, method, path, case):
    from tests.unit.test_token_header_types import BAD_HEADERS, forged

    app, _ = services["auth"]
    answer = getattr(app.test_client(), method)(
        path, headers={"Authorization": f"Bearer {forged(BAD_HEADERS[case])}"}
    )
    assert answer.status_code == 401 and answer.json["error"] == "invalid_token", answer.text[:300]
    assert "not valid" in answer.json["message"]


# -- NUL anywhere in a request ----------------------------------------------------------------------

NUL_REQUESTS = [  # (service, method, path, form): PostgreSQL cannot compare or store a NUL (a 500)
    ("tracker", "get", "/api/tasks/a%00b", None),
    ("tracker", "post", "/api/tasks/a%00b/complete", None),
    ("tracker", "get", "/api/reassignments/a%00b", None),
    ("tracker", "get", "/api/tasks?scope=all&x=%00", None),
    ("auth", "get", "/api/accounts/a%00b", None),
    ("auth", "delete", "/api/accounts/a%00b", None),
    ("auth", "get", "/oauth/authorize?client_id=ates%00&response_type=code&redirect_uri=x", None),
    (
        "auth",
        "post",
        "/oauth/token",
        {"grant_type": "authorization_code", "code": "ab", "client_id": "ates\x00cli"},
    ),
    ("auth", "post", "/oauth/revoke", {"token": "a\x00b", "client_id": "ates-cli"}),
    ("accounting", "get", "/api/accounts/a%00b/transactions", None),
    ("analytics", "get", "/api/income?from=%00", None),
    ("gateway", "get", "/tasks/all?status=%00", None),
]
NUL_IN_JSON = [
    ("tracker", "post", "/api/tasks", {"title": "Feed", "jira_id": None, "description": "x\x00"}),
    (
        "auth",
        "post",
        "/api/accounts",
        {
            "username": "kesha",
            "password": "correct\x00horse battery",
            "email": "kesha@uberpopug.example",
        },
    ),
]


@pytest.mark.parametrize("service, method, path, form", NUL_REQUESTS + NUL_IN_JSON)
def test_a_nul_anywhere_in_a_request_is_a_400_that_says_so(services, service, method, path, form):
    app, headers = services[service]
    sent = {"json": form} if path in ("/api/tasks", "/api/accounts") else {"data": form}
    answer = getattr(app.test_client(), method)(path, headers=headers(), **sent)
    assert answer.status_code == 400, answer.text[:300]
    if service == "gateway":  # a person's page says it on a page
        assert "U+0000" in answer.text and answer.content_type.startswith("text/html")
    else:
        assert "U+0000" in answer.json["message"], answer.json


@pytest.mark.parametrize("service, path", [("auth", "/signup"), ("gateway", "/tasks")])
def test_a_nul_in_a_page_form_is_a_page_that_says_so(services, service, path):
    app, _ = services[service]
    answer = app.test_client().post(path, data={"title": "Feed\x00", "username": "rio\x00"})
    assert answer.status_code == 400 and answer.content_type.startswith("text/html")
    assert "U+0000" in answer.text, answer.text[-500:]


def test_a_nul_in_an_id_is_a_400_on_postgresql_too(tmp_path):
    """On SQLite a NUL is just a character; PostgreSQL refuses the query (it was a 500)."""
    from ates import tokens
    from tests.e2e.system import postgres_databases
    from tests.issuer import StandInIssuer
    from tracker.app import create_app

    issuer = StandInIssuer()
    with postgres_databases(f"hardening_nul_{os.getpid()}") as databases:
        app = create_app(load_settings("tracker", {"ATES_VAR_DIR": str(tmp_path), **databases}))
        try:
            tokens.init_app(app, issuer.verifier())
            app.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
            answer = app.test_client().get(
                "/api/tasks/a%00b", headers=issuer.headers(str(uuid.uuid4()), "admin")
            )
            assert answer.status_code == 400 and "U+0000" in answer.json["message"], answer.text[
                :300
            ]
        finally:
            app.extensions["ates.engine"].dispose()
