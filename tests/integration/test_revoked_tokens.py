"""An access token revoked at the SSO before it expires: auth announces it as token.revoked, and
every resource service refuses its jti from the moment that event is handled."""

import importlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from ates import clock, tokens
from ates.bus import Event
from ates.config import load_settings
from tests.issuer import StandInIssuer

# service, an endpoint any role may call with the role, the table of revoked tokens
SERVICES = [
    ("tracker", "/api/tasks", "developer"),
    ("accounting", "/api/me/account", "developer"),
    ("analytics", "/api/summary", "admin"),
    ("notifier", "/api/me/notifications", "developer"),
]


@pytest.fixture(scope="module")
def issuer():
    return StandInIssuer()


@pytest.fixture(params=SERVICES, ids=[name for name, _, _ in SERVICES])
def service(request, tmp_path):
    name, path, role = request.param
    app = importlib.import_module(f"{name}.app").create_app(
        load_settings(name, {"ATES_VAR_DIR": str(tmp_path)})
    )
    app.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
    handle = importlib.import_module(f"{name}.handlers").handlers.lookup("token.revoked", 1)
    assert handle is not None, f"{name} does not handle token.revoked v1"

    def revoked(jti: str, account_id: str, expires_in: timedelta = timedelta(minutes=15)) -> None:
        event = Event(
            "token.revoked",
            1,
            "/auth",
            {
                "jti": jti,
                "account_id": account_id,
                "expires_at": clock.to_wire(clock.utcnow() + expires_in),
            },
        )
        with app.extensions["ates.uow"].begin() as session:
            handle(session, event)

    return app, path, role, revoked


def bearer(issuer, account_id, role, jti=None):
    return {"Authorization": f"Bearer {issuer.token(account_id, role, jti=jti)}"}


def test_a_revoked_token_is_refused_with_401_and_other_tokens_of_the_account_pass(service, issuer):
    app, path, role, revoked = service
    tokens.init_app(app, issuer.verifier())
    account_id, jti = str(uuid.uuid4()), uuid.uuid4().hex
    client = app.test_client()
    assert client.get(path, headers=bearer(issuer, account_id, role, jti)).status_code == 200
    revoked(jti, account_id)
    answer = client.get(path, headers=bearer(issuer, account_id, role, jti))
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        answer.get_json()["error"] == "token_revoked" and "revoked" in answer.get_json()["message"]
    )
    assert client.get(path, headers=bearer(issuer, account_id, role)).status_code == 200


def test_the_same_revocation_twice_keeps_one_row(service):
    app, _, _, revoked = service
    account_id = str(uuid.uuid4())
    revoked("jti-twice", account_id)
    revoked("jti-twice", account_id)
    with app.extensions["ates.uow"].read() as session:
        assert session.scalars(select(revoked_table(app).c.jti)).all() == ["jti-twice"]


def test_revocations_past_their_tokens_expiry_are_forgotten(service):
    app, _, _, revoked = service
    revoked("long-expired", str(uuid.uuid4()), expires_in=timedelta(minutes=-10))
    revoked("still-live", str(uuid.uuid4()))
    with app.extensions["ates.uow"].read() as session:
        assert session.scalars(select(revoked_table(app).c.jti)).all() == ["still-live"]


def revoked_table(app):
    return importlib.import_module(f"{app.import_name.split('.')[0]}.models").revoked_tokens
