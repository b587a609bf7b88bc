"""`ates login`'s pieces: the PKCE pair, the authorize address, the loopback callback, the whole flow."""

import re
import string
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cli import login as sign_in
from cli.login import LoginFailed, LoopbackCallback

METADATA = {
    "authorization_endpoint": "http://auth.test/oauth/authorize",
    "token_endpoint": "http://auth.test/oauth/token",
}


def test_s256_matches_rfc_7636_appendix_b():
    assert (
        sign_in.s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_pkce_pair_is_fresh_and_well_formed():
    verifier, challenge = sign_in.pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set(string.ascii_letters + string.digits + "-._~")
    assert challenge == sign_in.s256(verifier) and "=" not in challenge
    assert sign_in.pkce_pair()[0] != verifier


def test_authorize_url_names_the_public_client_and_its_loopback_redirect():
    url = urlsplit(
        sign_in.authorize_url(METADATA["authorization_endpoint"], "the-challenge", "the-state")
    )
    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["authorization_endpoint"]
    assert {name: values[0] for name, values in parse_qs(url.query).items()} == {
        "response_type": "code",
        "client_id": "ates-cli",
        "redirect_uri": "http://127.0.0.1:8976/callback",
        "scope": "openid profile email offline_access ates-api",
        "state": "the-state",
        "code_challenge": "the-challenge",
        "code_challenge_method": "S256",
    }


def browser_arrives(port: int, path: str, answers: list):
    """Plays the browser that the SSO sends back to the loopback address."""

    def visit():
        answers.append(requests.get(f"http://127.0.0.1:{port}{path}", timeout=5))

    thread = threading.Thread(target=visit)
    thread.start()
    return thread


def test_callback_server_receives_the_code():
    answers = []
    with LoopbackCallback("the-state", port=0) as callback:
        # A browser asks for the favicon first; that must not end the wait. (Sent one after the
        # other: once the callback is in, the server stops, and a later favicon would go unanswered.)
        favicon = browser_arrives(callback.port, "/favicon.ico", answers)
        while favicon.is_alive():
            callback.server.handle_request()
        visit = browser_arrives(callback.port, "/callback?code=the-code&state=the-state", answers)
        assert callback.wait(timeout=10) == "the-code"
        visit.join()
    assert sorted(answer.status_code for answer in answers) == [200, 404]
    assert "signed in" in next(answer.text for answer in answers if answer.ok)


@pytest.mark.parametrize(
    "query, reason",
    [
        ("code=the-code&state=someone-elses-state", "state does not match"),
        ("code=the-code", "state does not match"),
        (
            "error=access_denied&error_description=the+popug+said+no&state=the-state",
            "the popug said no",
        ),
        ("state=the-state", "no authorization code"),
    ],
)
def test_callback_server_refuses_a_bad_answer(query, reason):
    answers = []
    with LoopbackCallback("the-state", port=0) as callback:
        visit = browser_arrives(callback.port, f"/callback?{query}", answers)
        with pytest.raises(LoginFailed, match=reason):
            callback.wait(timeout=10)
        visit.join()
    assert answers[0].status_code == 400


def test_callback_server_gives_up_after_its_timeout():
    with (
        LoopbackCallback("the-state", port=0) as callback,
        pytest.raises(LoginFailed, match="no answer"),
    ):
        callback.wait(timeout=0.2)


def test_a_busy_port_is_a_clear_failure():
    with LoopbackCallback("s", port=0) as taken, pytest.raises(LoginFailed, match="cannot listen"):
        LoopbackCallback("s", port=taken.port)


class FakeTokenEndpoint:
    def __init__(self, status=200, answer=None):
        self.status, self.answer, self.forms = (
            status,
            answer
            or {
                "access_token": "the-access-token",
                "refresh_token": "the-refresh-token",
                "expires_in": 900,
                "token_type": "Bearer",
            },
            [],
        )

    def __call__(self, url, data, timeout):
        assert url == METADATA["token_endpoint"]
        self.forms.append(data)
        return type(
            "Answer",
            (),
            {"ok": self.status < 400, "status_code": self.status, "json": lambda _: self.answer},
        )()


def test_login_runs_the_loopback_flow_and_exchanges_the_code_without_a_secret(monkeypatch):
    token_endpoint = FakeTokenEndpoint()
    monkeypatch.setattr(sign_in, "discover", lambda issuer: METADATA)
    monkeypatch.setattr(sign_in.requests, "post", token_endpoint)
    answers, visits = [], []

    def announce(text):  # the person copies the address into a browser, signs in, and is sent back
        params = {
            k: v[0]
            for k, v in parse_qs(urlsplit(re.search(r"http://\S+", text).group(0)).query).items()
        }
        visits.append(
            (
                params,
                browser_arrives(
                    urlsplit(params["redirect_uri"]).port,
                    f"/callback?code=the-code&state={params['state']}",
                    answers,
                ),
            )
        )

    tokens = sign_in.login(
        "http://auth.test", open_browser=False, announce=announce, port=0, timeout=10
    )
    params, visit = visits[0]
    visit.join()
    assert tokens["access_token"] == "the-access-token" and tokens["expires_at"] > 0
    (form,) = token_endpoint.forms
    assert form["grant_type"] == "authorization_code" and form["code"] == "the-code"
    assert form["client_id"] == "ates-cli" and "client_secret" not in form
    assert form["redirect_uri"] == params["redirect_uri"]
    assert sign_in.s256(form["code_verifier"]) == params["code_challenge"]


def test_a_refused_exchange_is_a_clear_failure(monkeypatch):
    monkeypatch.setattr(
        sign_in.requests,
        "post",
        FakeTokenEndpoint(400, {"error": "invalid_grant", "error_description": "code expired"}),
    )
    with pytest.raises(LoginFailed, match="code expired"):
        sign_in.exchange_code(METADATA["token_endpoint"], "the-code", "verifier")


def test_an_unreachable_sso_is_a_clear_failure():
    with pytest.raises(LoginFailed, match="cannot be reached"):
        sign_in.discover("http://127.0.0.1:9")
