"""Who may open the dead-letters page: admins only, whatever the method (SPEC §3)."""

import time

import pytest

from ates.config import load_settings
from gateway.app import create_app

ACCOUNT_ID = "5b0c1e7e-3f4a-4d8b-9a51-2d1c33c1a0ad"
NOT_ADMINS = ("manager", "accountant", "boss", "developer")
ENDPOINTS = (
    ("get", "/admin/dead-letters"),
    ("get", "/admin/dead-letters/message?queue=q&key=k"),
    ("post", "/admin/dead-letters/replay"),
    ("post", "/admin/dead-letters/discard"),
)


def gateway_app(amqp_url: str = "amqp://guest:guest@localhost:1/%2F", **config):
    settings = load_settings("gateway", {"ATES_AMQP_URL": amqp_url})
    return create_app(settings, config={"BACKEND_URLS": {}, **config})


def sign_in_as(client, role: str, username: str = "kesha") -> None:
    """A gateway session as the SSO callback leaves it, with an access token good for an hour."""
    with client.session_transaction() as session:
        session["_user_id"] = ACCOUNT_ID
        session["_fresh"] = True
        session["account"] = {"account_id": ACCOUNT_ID, "username": username, "role": role}
        session["sso_tokens"] = {
            "access_token": "not-used-here",
            "refresh_token": None,
            "expires_at": int(time.time()) + 3600,
        }


@pytest.fixture
def client():
    return gateway_app(
        WTF_CSRF_ENABLED=False,
        RABBITMQ_MANAGEMENT_API_URL="http://localhost:1",
        OPERATOR_AMQP_URL="amqp://ates-operator:pw@localhost:1/%2F",
    ).test_client()


@pytest.mark.parametrize("role", NOT_ADMINS)
@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_only_admins_reach_dead_letters(client, role, method, path):
    sign_in_as(client, role)
    answer = getattr(client, method)(path, data={"queue": "q", "all": "1"})
    assert answer.status_code == 403


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_anonymous_visitor_is_sent_to_sign_in(client, method, path):
    answer = getattr(client, method)(path)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_admin_sees_why_when_the_broker_is_down(client):
    sign_in_as(client, "admin", "admin")
    page = client.get("/admin/dead-letters")
    assert page.status_code == 200
    assert "cannot reach RabbitMQ&#39;s management API at http://localhost:1" in page.get_data(
        as_text=True
    )
    assert "RabbitMQ management UI" in page.get_data(as_text=True)


def test_admin_sees_why_when_the_gateway_has_no_operator_credentials():
    client = gateway_app(WTF_CSRF_ENABLED=False, OPERATOR_AMQP_URL=None).test_client()
    sign_in_as(client, "admin", "admin")
    page = client.get("/admin/dead-letters")
    assert page.status_code == 200
    assert "no broker password for the operator user" in page.get_data(as_text=True)
    answer = client.post(
        "/admin/dead-letters/discard", data={"queue": "q", "all": "1"}, follow_redirects=True
    )
    assert "no broker password for the operator user" in answer.get_data(as_text=True)


def test_an_action_without_a_choice_is_refused_with_a_message(client):
    sign_in_as(client, "admin", "admin")
    answer = client.post(
        "/admin/dead-letters/discard", data={"queue": "probe.tracker.dead"}, follow_redirects=True
    )
    assert "Choose a queue, and a letter, a reason or all of them." in answer.get_data(as_text=True)
