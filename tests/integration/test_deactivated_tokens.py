"""A token outlives a deactivation by up to its lifetime; services that keep a replica of the
accounts refuse it as soon as the replica has heard of the deactivation."""

import importlib
import uuid

import pytest
from sqlalchemy import insert

from ates import tokens
from ates.config import load_settings
from tests.issuer import StandInIssuer

# service, an endpoint every admin may call, the replica's extra columns besides id/active/version
SERVICES = [
    ("tracker", "/api/tasks", {"username": "popug", "role": "admin", "assignable": False}),
    (
        "accounting",
        "/api/me/account",
        {"username": "popug", "role": "admin", "email": None, "full_name": None},
    ),
    ("analytics", "/api/summary", {}),
]


@pytest.fixture(scope="module")
def issuer():
    return StandInIssuer()


@pytest.fixture(params=SERVICES, ids=[service for service, _, _ in SERVICES])
def service(request, tmp_path, issuer):
    name, path, columns = request.param
    app = importlib.import_module(f"{name}.app").create_app(
        load_settings(name, {"ATES_VAR_DIR": str(tmp_path)})
    )
    tokens.init_app(app, issuer.verifier())
    app.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
    replica = importlib.import_module(f"{name}.models").accounts

    def account(active: bool | None) -> str:
        account_id = str(uuid.uuid4())
        if active is not None:
            with app.extensions["ates.uow"].begin() as session:
                session.execute(
                    insert(replica).values(
                        account_id=account_id, active=active, version=2, **columns
                    )
                )
        return account_id

    return app.test_client(), path, account


def test_a_deactivated_accounts_token_is_refused(service, issuer):
    client, path, account = service
    answer = client.get(path, headers=issuer.headers(account(active=False), "admin"))
    assert answer.status_code == 401 and answer.get_json()["error"] == "account_deactivated"


@pytest.mark.parametrize("active", [True, None], ids=["active", "not yet known to the replica"])
def test_an_active_or_not_yet_known_accounts_token_passes(service, issuer, active):
    client, path, account = service
    assert client.get(path, headers=issuer.headers(account(active), "admin")).status_code == 200
