"""The gateway's settings: development defaults, and production refusing to start on them."""
import pytest

from ates.config import load_settings
from gateway.app import create_app

PRODUCTION_SECRETS = {"ATES_GATEWAY_SECRET_KEY": "a-long-random-session-key", "ATES_GATEWAY_CLIENT_SECRET": "a-long-client-secret"}


def production(monkeypatch, **secrets):
    for name in PRODUCTION_SECRETS:
        monkeypatch.delenv(name, raising=False)
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return load_settings("gateway", {"ATES_ENV": "production", "ATES_METRICS_TOKEN": "m" * 32})


@pytest.mark.parametrize("missing", list(PRODUCTION_SECRETS))
def test_production_refuses_to_start_on_a_development_secret(monkeypatch, missing):
    secrets = {name: value for name, value in PRODUCTION_SECRETS.items() if name != missing}
    with pytest.raises(RuntimeError, match="ATES_GATEWAY_SECRET_KEY and ATES_GATEWAY_CLIENT_SECRET"):
        create_app(production(monkeypatch, **secrets))


def test_production_starts_with_its_own_secrets(monkeypatch):
    app = create_app(production(monkeypatch, **PRODUCTION_SECRETS))
    assert app.config["SECRET_KEY"] == "a-long-random-session-key"
    assert app.config["GATEWAY_CLIENT_SECRET"] == "a-long-client-secret"


def test_development_starts_on_the_defaults(monkeypatch):
    for name in PRODUCTION_SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATES_GATEWAY_PORT", "6000")
    monkeypatch.setenv("ATES_AUTH_PORT", "6001")
    monkeypatch.delenv("ATES_AUTH_ISSUER", raising=False)
    monkeypatch.delenv("ATES_GATEWAY_URL", raising=False)
    app = create_app(load_settings("gateway", {}))
    assert app.config["GATEWAY_URL"] == "http://localhost:6000"
    assert app.config["ATES_AUTH_ISSUER"] == "http://localhost:6001"


def test_session_cookie_does_not_collide_with_auth_on_the_same_host():
    app = create_app(config={"BACKEND_URLS": {}})
    assert app.config["SESSION_COOKIE_NAME"] != "session"
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
