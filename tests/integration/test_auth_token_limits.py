"""How far a sign-in's tokens reach. Its refresh tokens end at a fixed time after it
(ATES_REFRESH_FAMILY_LIFETIME, 30 days), however often they were rotated: a stolen, rotating refresh
token is not a key for ever. A client is granted only the scopes it is registered for.
In-process on a real (SQLite) database, with auth's clock moved forward."""

import base64
import hashlib
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ates import clock, migrations
from ates.config import load_settings
from auth import oauth_store, service
from auth.app import create_app
from auth.settings import ClientConfig, load_auth_settings

ROOT = Path(__file__).resolve().parents[2]
CLI_CALLBACK = "http://127.0.0.1:8976/callback"


@pytest.fixture
def app(tmp_path):
    env = {"ATES_VAR_DIR": str(tmp_path), "ATES_AUTH_ISSUER": "http://localhost"}
    migrations.upgrade(ROOT / "auth" / "migrations", f"sqlite:///{tmp_path / 'auth.db'}")
    app = create_app(load_settings("auth", env), load_auth_settings(env))
    service.create_account(
        app.extensions["ates.uow"], "kesha", "sunflower-seeds", "kesha@uberpopug.example"
    )
    return app


@pytest.fixture
def days_later(monkeypatch):
    """Move auth's clock: days_later(13) makes it 13 days after the test started."""
    start = clock.utcnow()

    def move(days: float):
        monkeypatch.setattr(clock, "utcnow", lambda: start + timedelta(days=days))

    return move


def signed_in_tokens(app) -> dict:
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login", data={"csrf_token": token, "username": "kesha", "password": "sunflower-seeds"}
        ).status_code
        == 302
    )
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    back = client.get(
        "/oauth/authorize",
        query_string={
            "response_type": "code",
            "client_id": "ates-cli",
            "redirect_uri": CLI_CALLBACK,
            "state": "s",
            "scope": "openid offline_access",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "ates-cli",
            "redirect_uri": CLI_CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json


def refresh(app, refresh_token: str):
    return app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "ates-cli",
            "refresh_token": refresh_token,
        },
    )


def test_rotated_refresh_tokens_stop_30_days_after_the_sign_in_however_fresh(app, days_later):
    refresh_token = signed_in_tokens(app)["refresh_token"]
    for day in (13, 26, 29.9):  # each token is used well within its own 14 days
        days_later(day)
        answer = refresh(app, refresh_token)
        assert answer.status_code == 200, (day, answer.text)
        refresh_token = answer.json["refresh_token"]
    days_later(30.01)  # the last token is 2.5 hours old, yet the sign-in it descends from is over
    refused = refresh(app, refresh_token)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"


def test_a_new_sign_in_starts_a_new_30_days(app, days_later):
    days_later(40)
    assert refresh(app, signed_in_tokens(app)["refresh_token"]).status_code == 200


def test_a_client_is_granted_only_the_scopes_it_is_registered_for(app):
    uow = app.extensions["ates.uow"]
    assert (
        oauth_store.find_client(uow, "ates-cli").get_allowed_scope("openid offline_access ates-api")
        == "openid offline_access ates-api"
    )
    oauth_store.save_clients(
        uow,
        (
            ClientConfig(
                "sign-in-only",
                "a sign-in button",
                None,
                ("http://127.0.0.1:9999/callback",),
                scopes=("openid",),
            ),
        ),
    )
    assert (
        oauth_store.find_client(uow, "sign-in-only").get_allowed_scope(
            "openid offline_access ates-api"
        )
        == "openid"
    )
