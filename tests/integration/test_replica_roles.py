"""A token's `role` claim is what the account was when it signed in; services that keep a replica
of the accounts take a role away as soon as the replica has heard of the change, and never grant
one that the token does not carry."""

import uuid

import pytest

from tests.apps import replica_account

# service, an endpoint only privileged roles may call, a role it needs, the replica's other columns
SERVICES = [
    ("tracker", "/api/tasks?scope=all", "manager", {"username": "popug", "assignable": False}),
    (
        "tracker",
        "/api/reassignments/00000000-0000-4000-8000-000000000000",
        "manager",
        {"username": "popug", "assignable": False},
    ),
    (
        "accounting",
        "/api/accounts",
        "accountant",
        {"username": "popug", "email": None, "full_name": None},
    ),
    ("analytics", "/api/summary", "admin", {}),
]
IDS = [f"{service}{path.split('?')[0]}" for service, path, _, _ in SERVICES]


@pytest.fixture(params=SERVICES, ids=IDS)
def service(request, service_app):
    name, path, role, columns = request.param
    app = service_app(name)

    def account(replica_role: str | None) -> str:
        if replica_role is None:
            return str(uuid.uuid4())  # an account the replica has not heard of
        return replica_account(app, active=True, version=3, role=replica_role, **columns)

    return app.test_client(), path, role, account


def test_a_demoted_accounts_old_token_is_forbidden(service, issuer):
    client, path, role, account = service
    answer = client.get(path, headers=issuer.headers(account("developer"), role))
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden" and role in answer.get_json()["message"]


def test_a_promoted_account_waits_for_a_token_with_its_new_role(service, issuer):
    client, path, role, account = service
    assert client.get(path, headers=issuer.headers(account(role), "developer")).status_code == 403


def test_a_role_the_replica_and_the_token_agree_on_passes(service, issuer):
    client, path, role, account = service
    assert client.get(path, headers=issuer.headers(account(role), role)).status_code in (200, 404)


def test_a_replica_that_disagrees_with_the_token_grants_nothing_beyond_every_roles_rights(
    service, issuer
):
    client, path, role, account = service
    for token_role in {"admin", "manager", "accountant", "boss"} - {role}:
        answer = client.get(path, headers=issuer.headers(account(role), token_role))
        assert answer.status_code == 403, (token_role, answer.get_json())


def test_an_account_the_replica_does_not_know_yet_is_taken_at_its_tokens_word(service, issuer):
    client, path, role, account = service
    assert client.get(path, headers=issuer.headers(account(None), role)).status_code in (200, 404)
