"""A token outlives a deactivation by up to its lifetime; services that keep a replica of the
accounts refuse it as soon as the replica has heard of the deactivation. On SQLite and on
PostgreSQL, where the guard asks its one statement outside a transaction (UnitOfWork.read_one)."""

import importlib
import uuid

import pytest

from ates import clock
from tests.apps import replica_account
from tests.databases import postgres_database

# service, an endpoint every admin may call, the replica's extra columns besides id/active/version
SERVICES = [
    ("tracker", "/api/tasks", {"username": "popug", "role": "admin", "assignable": False}),
    (
        "accounting",
        "/api/me/account",
        {"username": "popug", "role": "admin", "email": None, "full_name": None},
    ),
    ("analytics", "/api/summary", {}),
    (
        "notifier",
        "/api/me/notifications",
        {"username": "popug", "role": "admin", "email": None, "full_name": None},
    ),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    if request.param == "sqlite":
        yield {}  # the service's file in the test's folder
    else:
        with postgres_database("guard") as url:
            yield {"DATABASE_URL": url}


@pytest.fixture(params=SERVICES, ids=[service for service, _, _ in SERVICES])
def service(request, service_app, database):
    name, path, columns = request.param
    app = service_app(name, **database)

    def account(active: bool | None) -> str:
        if active is None:
            return str(uuid.uuid4())  # an account the replica has not heard of
        return replica_account(app, active=active, version=2, **columns)

    return app.test_client(), path, account


def test_a_deactivated_accounts_token_is_refused(service, issuer):
    client, path, account = service
    answer = client.get(path, headers=issuer.headers(account(active=False), "admin"))
    assert answer.status_code == 401 and answer.get_json()["error"] == "account_deactivated"


@pytest.mark.parametrize("active", [True, None], ids=["active", "not yet known to the replica"])
def test_an_active_or_not_yet_known_accounts_token_passes(service, issuer, active):
    client, path, account = service
    assert client.get(path, headers=issuer.headers(account(active), "admin")).status_code == 200


def test_a_revoked_token_of_an_active_account_is_refused(service, issuer):
    """The guard's one statement asks both: the replica's row and the revocation list."""
    client, path, account = service
    app = client.application
    service_package = app.import_name.split(".")[0]  # tracker.app -> tracker
    revoked = importlib.import_module(f"{service_package}.models").revoked_tokens
    headers = issuer.headers(account(active=True), "admin")
    claims = app.extensions["ates.tokens"].verify(headers["Authorization"].split()[1])
    with app.extensions["ates.uow"].begin() as session:
        session.execute(
            revoked.insert().values(
                jti=claims["jti"], account_id=claims["sub"], expires_at=clock.utcnow()
            )
        )
    answer = client.get(path, headers=headers)
    assert answer.status_code == 401 and answer.get_json()["error"] == "token_revoked"
