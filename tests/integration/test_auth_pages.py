"""Auth's browser pages on a real (SQLite) database: CSRF on every form, sign-up, the accounts admin
page, where logins and logouts may send the browser, and the refusal to start unsafely in production."""

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from ates import migrations
from ates.config import load_settings
from ates.db import make_engine
from ates.production import UnsafeProductionSettings
from ates.unit_of_work import UnitOfWork
from auth import service
from auth.app import create_app
from auth.models import outbox
from auth.settings import load_auth_settings

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "http://gateway.test:5000"


def make_app(var: Path, **extra_env):
    env = {
        "ATES_VAR_DIR": str(var),
        "ATES_AUTH_ISSUER": "http://localhost",
        "ATES_GATEWAY_URL": GATEWAY,
        **extra_env,
    }
    migrations.upgrade(ROOT / "auth" / "migrations", f"sqlite:///{var / 'auth.db'}")
    return create_app(load_settings("auth", env), load_auth_settings(env))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("auth-pages"))


@pytest.fixture(scope="module")
def uow(app):
    return app.extensions["ates.uow"]


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def log_in(client, username: str, password: str, next_path: str | None = None):
    data = {"csrf_token": csrf_token(client, "/login"), "username": username, "password": password}
    if next_path:
        data["next"] = next_path
    return client.post("/login", data=data)


def event_types(uow, account_id: str) -> list[str]:
    with uow.read() as session:
        bodies = session.scalars(select(outbox.c.body).order_by(outbox.c.id)).all()
    return [m["type"] for m in map(json.loads, bodies) if m["data"]["account_id"] == account_id]


@pytest.mark.parametrize(
    "path, data",
    [
        ("/login", {"username": "admin", "password": "admin"}),
        (
            "/signup",
            {"username": "nocsrf", "password": "password-1", "email": "n@uberpopug.example"},
        ),
        ("/logout", {}),
        (
            "/admin/accounts",
            {"username": "x-admin", "password": "password-1", "email": "x@uberpopug.example"},
        ),
    ],
)
def test_a_form_posted_without_its_csrf_token_is_refused(app, path, data):
    response = app.test_client().post(path, data=data)
    assert response.status_code == 400 and "This form has expired" in response.text


def test_a_form_with_a_csrf_token_of_another_session_is_refused(app):
    token = csrf_token(app.test_client(), "/login")
    response = app.test_client().post(
        "/login", data={"csrf_token": token, "username": "admin", "password": "admin"}
    )
    assert response.status_code == 400


def test_sign_up_makes_a_developer_logs_them_in_and_says_account_created(app, uow):
    client = app.test_client()
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(client, "/signup"),
            "username": "Rio",
            "password": "blue-macaw",
            "email": "rio@uberpopug.example",
            "full_name": "Blu",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert (
        "logged in to the aTES sign-in service as <strong>rio</strong> (developer)"
        in client.get("/").text
    )
    account = next(a for a in service.list_accounts(uow) if a.username == "rio")
    assert event_types(uow, account.account_id) == ["account.created"]


@pytest.mark.parametrize(
    "form, message",
    [
        (
            {"username": "x", "password": "password-1", "email": "x@uberpopug.example"},
            "3 to 64 characters",
        ),
        (
            {"username": "shorty", "password": "short", "email": "x@uberpopug.example"},
            "8 to 200 characters",
        ),
        ({"username": "bademail", "password": "password-1", "email": "nope"}, "email address"),
        (
            {"username": "admin", "password": "password-1", "email": "x@uberpopug.example"},
            "is taken",
        ),
        (
            {"username": "common", "password": "12345678", "email": "x@uberpopug.example"},
            "too common",
        ),
    ],
)
def test_sign_up_with_bad_input_shows_why_and_keeps_the_form(app, form, message):
    client = app.test_client()
    response = client.post("/signup", data={"csrf_token": csrf_token(client, "/signup"), **form})
    assert response.status_code == 400 and message in response.text
    assert f'value="{form["email"]}"' in response.text


@pytest.mark.parametrize(
    "next_path, lands_on",
    [
        ("/oauth/authorize?client_id=ates-cli", "/oauth/authorize?client_id=ates-cli"),
        ("//evil.example/steal", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/%2F/evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_after_login_the_browser_goes_only_to_local_paths(app, next_path, lands_on):
    response = log_in(app.test_client(), "admin", "admin", next_path)
    assert response.status_code == 302 and response.headers["Location"] == lands_on


@pytest.mark.parametrize(
    "target, query, lands_on",
    [
        (f"{GATEWAY}/", {"state": "s1"}, f"{GATEWAY}/?state=s1"),
        ("http://127.0.0.1:8976/bye", {}, "http://127.0.0.1:8976/bye"),
        ("https://evil.example/", {}, None),
        ("http://gateway.test:5001/", {}, None),  # another port is another origin
    ],
)
def test_logout_returns_only_to_a_clients_own_origin(app, target, query, lands_on):
    client = app.test_client()
    log_in(client, "admin", "admin")
    response = client.get("/logout", query_string={"post_logout_redirect_uri": target, **query})
    if lands_on:
        assert response.status_code == 302 and response.headers["Location"] == lands_on
    else:
        assert response.status_code == 200 and "You are logged out" in response.text
    assert client.get("/").status_code == 302  # logged out either way


def test_the_accounts_page_is_for_logged_in_admins_only(app, uow):
    assert (
        app.test_client()
        .get("/admin/accounts")
        .headers["Location"]
        .startswith("/login?next=/admin/accounts")
    )
    service.create_account(uow, "plain-dev", "password-1", "d@uberpopug.example")
    client = app.test_client()
    log_in(client, "plain-dev", "password-1")
    assert client.get("/admin/accounts").status_code == 403


def test_an_admin_creates_changes_the_role_of_and_deactivates_an_account_on_the_page(app, uow):
    client = app.test_client()
    log_in(client, "admin", "admin")
    response = client.post(
        "/admin/accounts",
        data={
            "csrf_token": csrf_token(client, "/admin/accounts"),
            "username": "paged",
            "password": "password-1",
            "email": "paged@uberpopug.example",
            "full_name": "Paged Popug",
            "role": "accountant",
        },
    )
    assert response.status_code == 302
    page = client.get("/admin/accounts").text
    assert "Created paged (accountant)." in page and "Paged Popug" in page
    account = next(a for a in service.list_accounts(uow) if a.username == "paged")
    token = csrf_token(client, "/admin/accounts")
    client.post(
        f"/admin/accounts/{account.account_id}/role", data={"csrf_token": token, "role": "boss"}
    )
    client.post(f"/admin/accounts/{account.account_id}/deactivate", data={"csrf_token": token})
    account = service.get_account(uow, account.account_id)
    assert (account.role, account.active, account.version) == ("boss", False, 3)
    assert event_types(uow, account.account_id) == [
        "account.created",
        "account.role_changed",
        "account.updated",
        "account.deactivated",
        "account.updated",
    ]


def test_the_accounts_page_shows_a_broken_rule_instead_of_failing(app):
    client = app.test_client()
    log_in(client, "admin", "admin")
    response = client.post(
        "/admin/accounts",
        data={
            "csrf_token": csrf_token(client, "/admin/accounts"),
            "username": "bad name",
            "password": "password-1",
            "email": "b@uberpopug.example",
            "role": "developer",
        },
    )
    assert response.status_code == 400 and "3 to 64 characters" in response.text


def test_a_deactivated_account_is_logged_out_and_cannot_log_in(app, uow):
    account = service.create_account(uow, "fading", "password-1", "f@uberpopug.example")
    client = app.test_client()
    log_in(client, "fading", "password-1")
    assert client.get("/").status_code == 200
    admin = next(a for a in service.list_accounts(uow) if a.username == "admin")
    service.deactivate_account(uow, account.account_id, admin.account_id)
    assert client.get("/").status_code == 302
    response = log_in(client, "fading", "password-1")
    assert response.status_code == 200 and "This account has been deactivated." in response.text


def test_an_upload_over_the_request_limit_gets_a_page_not_a_crash(app):
    client = app.test_client()
    log_in(client, "admin", "admin")
    response = client.post(
        "/beak",
        data={
            "csrf_token": csrf_token(client, "/beak"),
            "photo": (io.BytesIO(b"\0" * (9 * 1024 * 1024)), "big.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and "larger than the 8 MiB" in response.text


PRODUCTION = {
    "ATES_ENV": "production",
    "ATES_AUTH_ISSUER": "https://sso.uberpopug.example",
    "ATES_GATEWAY_URL": "https://ates.uberpopug.example",
    "ATES_AUTH_SECRET_KEY": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "ATES_GATEWAY_CLIENT_SECRET": "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13",
    "ATES_ADMIN_PASSWORD": "a proper password",
    "ATES_METRICS_TOKEN": "m3tr1cs-scraper-token-of-32-chars",
}


def test_production_refuses_to_start_with_development_secrets(tmp_path):
    with pytest.raises(UnsafeProductionSettings) as refused:
        make_app(
            tmp_path,
            ATES_ENV="production",
            ATES_AUTH_ISSUER=PRODUCTION["ATES_AUTH_ISSUER"],
            ATES_GATEWAY_URL=PRODUCTION["ATES_GATEWAY_URL"],
            ATES_METRICS_TOKEN=PRODUCTION["ATES_METRICS_TOKEN"],
        )
    assert str(refused.value) == (
        "auth web refuses to start in production: ATES_AUTH_SECRET_KEY is not set; "
        "ATES_GATEWAY_CLIENT_SECRET is not set; ATES_ADMIN_PASSWORD is not set."
    )


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"ATES_ADMIN_PASSWORD": "a"}, "ATES_ADMIN_PASSWORD is shorter than 12 characters"),
        (
            {"ATES_AUTH_ISSUER": "http://auth.localhost:5001"},
            "ATES_AUTH_ISSUER must be an https:// URL",
        ),
        ({"ATES_GATEWAY_URL": "http://localhost:5000"}, "ATES_GATEWAY_URL must be an https:// URL"),
        (
            {"ATES_AUTH_SECRET_KEY": "compose-auth-session-key"},
            "ATES_AUTH_SECRET_KEY is shorter than 32 characters",
        ),
    ],
)
def test_production_refuses_weak_settings_before_it_makes_the_admin(tmp_path, changes, problem):
    with pytest.raises(UnsafeProductionSettings, match=problem):
        make_app(tmp_path, **{**PRODUCTION, **changes})
    assert service.list_accounts(UnitOfWork(make_engine(f"sqlite:///{tmp_path / 'auth.db'}"))) == []


def test_production_starts_with_real_secrets_and_the_admin_gets_that_password(tmp_path):
    app = make_app(tmp_path, **PRODUCTION)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert log_in(app.test_client(), "admin", "a proper password").status_code == 302


def test_development_signs_sessions_with_a_key_of_its_own_var_dir(tmp_path):
    key_file = tmp_path / "auth-session.key"
    app = make_app(tmp_path)
    assert app.config["SECRET_KEY"] == key_file.read_text() and len(app.config["SECRET_KEY"]) >= 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert make_app(tmp_path).config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_production_refuses_to_start_with_a_common_admin_password(tmp_path):
    with pytest.raises(UnsafeProductionSettings, match="ATES_ADMIN_PASSWORD is a common password"):
        make_app(
            tmp_path, **{**PRODUCTION, "ATES_ADMIN_PASSWORD": "password1234"}
        )  # long enough, but common
