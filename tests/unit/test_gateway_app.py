"""The gateway's settings: development defaults, production refusing weak ones, and a session key
that is nobody's but this installation's."""

import os
import stat

import pytest
from flask.sessions import SecureCookieSessionInterface

from ates.config import load_settings
from ates.production import UnsafeProductionSettings
from gateway.app import create_app

PRODUCTION = {
    "ATES_GATEWAY_SECRET_KEY": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    "ATES_GATEWAY_CLIENT_SECRET": "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13",
    "ATES_GATEWAY_URL": "https://ates.uberpopug.example",
    "ATES_AUTH_ISSUER": "https://sso.uberpopug.example",
    "ATES_AMQP_URL": "amqps://rabbit.uberpopug.example/ates",
    "ATES_METRICS_TOKEN": "m3tr1cs-scraper-token-of-32-chars",
}
COMMITTED_KEY = "dev-gateway-session-key"  # the development key this repository used to carry


def production(monkeypatch, **changes):
    for name, value in {**PRODUCTION, **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return load_settings("gateway", {**os.environ, "ATES_ENV": "production"})


@pytest.mark.parametrize("missing", ["ATES_GATEWAY_SECRET_KEY", "ATES_GATEWAY_CLIENT_SECRET"])
def test_production_refuses_to_start_without_a_secret(monkeypatch, missing):
    with pytest.raises(UnsafeProductionSettings, match=f"{missing} is not set"):
        create_app(production(monkeypatch, **{missing: None}))


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"ATES_GATEWAY_SECRET_KEY": "x"}, "ATES_GATEWAY_SECRET_KEY is shorter than 32 characters"),
        (
            {"ATES_GATEWAY_SECRET_KEY": COMMITTED_KEY},
            "ATES_GATEWAY_SECRET_KEY is shorter than 32 characters",
        ),
        (
            {"ATES_GATEWAY_URL": "http://ates.uberpopug.example"},
            "ATES_GATEWAY_URL must be an https:// URL",
        ),
        (
            {"ATES_AUTH_ISSUER": "http://sso.uberpopug.example"},
            "ATES_AUTH_ISSUER must be an https:// URL",
        ),
        (
            {"ATES_AMQP_URL": "amqp://guest:guest@localhost:5672/%2F"},
            "ATES_AMQP_URL signs in as the broker's default user",
        ),
    ],
)
def test_production_refuses_to_start_on_weak_settings(monkeypatch, changes, problem):
    with pytest.raises(UnsafeProductionSettings) as refused:
        create_app(production(monkeypatch, **changes))
    assert str(refused.value).startswith(
        "gateway web refuses to start in production: "
    ) and problem in str(refused.value)


def test_production_starts_with_its_own_secrets_and_a_secure_cookie(monkeypatch):
    app = create_app(production(monkeypatch))
    assert app.config["SECRET_KEY"] == PRODUCTION["ATES_GATEWAY_SECRET_KEY"]
    assert app.config["GATEWAY_CLIENT_SECRET"] == PRODUCTION["ATES_GATEWAY_CLIENT_SECRET"]
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]


def test_development_starts_on_the_defaults(tmp_path):
    # The settings are all the app reads: nothing of the test runner's environment leaks in.
    app = create_app(
        load_settings(
            "gateway",
            {"ATES_VAR_DIR": str(tmp_path), "ATES_GATEWAY_PORT": "6000", "ATES_AUTH_PORT": "6001"},
        )
    )
    assert app.config["GATEWAY_URL"] == "http://localhost:6000"
    assert app.config["ATES_AUTH_ISSUER"] == "http://localhost:6001"


def test_development_makes_its_session_key_once_into_the_var_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("ATES_GATEWAY_SECRET_KEY", raising=False)
    first = create_app(load_settings("gateway", {"ATES_VAR_DIR": str(tmp_path / "var")}))
    key_file = tmp_path / "var" / "gateway-session.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == key_file.read_text() and len(key_file.read_text()) >= 32
    again = create_app(load_settings("gateway", {"ATES_VAR_DIR": str(tmp_path / "var")}))
    elsewhere = create_app(load_settings("gateway", {"ATES_VAR_DIR": str(tmp_path / "other")}))
    assert (
        again.config["SECRET_KEY"] == first.config["SECRET_KEY"] != elsewhere.config["SECRET_KEY"]
    )


def test_a_cookie_signed_with_the_committed_development_key_makes_nobody_an_admin(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("ATES_GATEWAY_SECRET_KEY", raising=False)
    app = create_app(
        load_settings("gateway", {"ATES_VAR_DIR": str(tmp_path)}), config={"BACKEND_URLS": {}}
    )
    forger = create_app(
        load_settings("gateway", {"ATES_VAR_DIR": str(tmp_path / "forger")}),
        config={"BACKEND_URLS": {}, "SECRET_KEY": COMMITTED_KEY},
    )
    admin = {
        "account": {
            "account_id": "5b0c1e7e-3f4a-4d8b-9a51-2d1c33c1a001",
            "username": "mallory",
            "role": "admin",
        },
        "_user_id": "5b0c1e7e-3f4a-4d8b-9a51-2d1c33c1a001",
        "_fresh": True,
        "sso_tokens": {"access_token": "x", "refresh_token": "y", "expires_at": 4102444800},
    }
    forged = SecureCookieSessionInterface().get_signing_serializer(forger).dumps(admin)
    client = app.test_client()
    client.set_cookie("ates_gateway_session", forged)
    home = client.get("/").text
    assert "mallory" not in home and "Sign out" not in home


def test_session_cookie_does_not_collide_with_auth_on_the_same_host():
    app = create_app(config={"BACKEND_URLS": {}})
    assert app.config["SESSION_COOKIE_NAME"] != "session"
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
