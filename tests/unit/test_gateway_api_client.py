"""The gateway's calls to the services' REST APIs, with the signed-in popug's access token."""

import time

import pytest
import requests
from flask import session

from gateway import api_client, renewal
from gateway.api_client import ServiceError
from gateway.app import create_app


class FakeAnswer:
    def __init__(self, status, body=None, reason="Reason"):
        self.status_code, self.body, self.reason = status, body, reason
        self.ok = status < 400
        self.content = b"" if body is None else b"{...}"

    def json(self):
        if isinstance(self.body, str):
            raise ValueError("no JSON")
        return self.body


@pytest.fixture
def calls(monkeypatch):
    found = {"answer": FakeAnswer(200, {"tasks": []}), "requests": []}

    def request(method, url, **kwargs):
        found["requests"].append((method, url, kwargs))
        if isinstance(found["answer"], Exception):
            raise found["answer"]
        return found["answer"]

    monkeypatch.setattr(api_client.requests, "request", request)
    return found


@pytest.fixture
def signed_in():
    app = create_app(config={"BACKEND_URLS": {"tracker": "http://tracker.test"}})
    with app.test_request_context():
        session["sso_tokens"] = {
            "access_token": "the-access-token",
            "refresh_token": "r",
            "expires_at": time.time() + 900,
        }
        yield


def test_a_call_carries_the_access_token(signed_in, calls):
    assert api_client.get("tracker", "/api/tasks", scope="mine") == {"tasks": []}
    ((method, url, kwargs),) = calls["requests"]
    assert (method, url) == ("GET", "http://tracker.test/api/tasks")
    assert kwargs["params"] == {"scope": "mine"}
    assert kwargs["headers"] == {"Authorization": "Bearer the-access-token"}


def test_a_refusal_keeps_the_services_words(signed_in, calls):
    calls["answer"] = FakeAnswer(
        409, {"error": "no_assignee", "message": "Nobody can take the task."}
    )
    with pytest.raises(ServiceError) as refused:
        api_client.post("tracker", "/api/tasks", {"title": "Feed the parrots"})
    assert (refused.value.status, refused.value.error, refused.value.message) == (
        409,
        "no_assignee",
        "Nobody can take the task.",
    )


def test_an_answer_without_json_still_makes_a_readable_error(signed_in, calls):
    calls["answer"] = FakeAnswer(502, "<html>bad gateway</html>", reason="Bad Gateway")
    with pytest.raises(ServiceError, match="502 Bad Gateway"):
        api_client.get("tracker", "/api/tasks")


def test_an_unreachable_service_is_503(signed_in, calls):
    calls["answer"] = requests.ConnectionError("refused")
    with pytest.raises(ServiceError) as refused:
        api_client.get("tracker", "/api/tasks")
    assert refused.value.status == 503 and "tracker" in refused.value.message


def test_a_401_from_the_service_means_signing_in_again(signed_in, calls):
    calls["answer"] = FakeAnswer(401, {"error": "invalid_token", "message": "expired"})
    with pytest.raises(renewal.SignInRequired):
        api_client.get("tracker", "/api/tasks")


def test_without_a_sign_in_nothing_is_called():
    app = create_app(config={"BACKEND_URLS": {"tracker": "http://tracker.test"}})
    with app.test_request_context(), pytest.raises(renewal.SignInRequired):
        api_client.get("tracker", "/api/tasks")
