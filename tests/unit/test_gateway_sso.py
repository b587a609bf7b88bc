"""The gateway's sign-in, refresh and sign-out against a fake SSO: the discovery and token calls are faked,
authlib's state and PKCE handling and the token verification run for real."""

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.jwk import RSAKey

from ates import tokens
from ates.tokens import TokenVerifier
from gateway import sso
from gateway.app import create_app

ISSUER = "http://auth.test"
GATEWAY = "http://gateway.test"
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/oauth/authorize",
    "token_endpoint": f"{ISSUER}/oauth/token",
    "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
    "end_session_endpoint": f"{ISSUER}/logout",
    "revocation_endpoint": f"{ISSUER}/oauth/revoke",
}
ACCOUNT_ID = "5b0c1e7e-3f4a-4d8b-9a51-2d1c33c1a001"


@pytest.fixture(scope="module")
def signing_key():
    return RSAKey.generate_key(2048, parameters={"kid": "sso-key"})


def access_token(key, role="developer", username="kesha"):
    now = int(time.time())
    return jwt.encode(
        {"alg": "RS256", "typ": "at+jwt", "kid": key.kid},
        {
            "iss": ISSUER,
            "sub": ACCOUNT_ID,
            "aud": "ates-api",
            "iat": now,
            "exp": now + 900,
            "jti": str(now),
            "client_id": "ates-gateway",
            "scope": sso.SCOPE,
            "role": role,
            "preferred_username": username,
        },
        key,
        algorithms=["RS256"],
    )


class FakeSso:
    """Stands in for auth's discovery and token endpoints; hands out the tokens a test queues."""

    def __init__(self):
        self.up = True
        self.issued = []  # token responses still to give
        self.token_requests = []
        self.revoked = []

    def load_server_metadata(self):
        if not self.up:
            raise sso.requests.ConnectionError("auth is down")
        return dict(METADATA)

    def fetch_access_token(self, **params):
        self.token_requests.append(params)
        answer = self.issued.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def revoke(self, url, data, auth, timeout):
        self.revoked.append((url, data["token"], auth[0]))


class FakeJwks:
    """Auth's /.well-known/jwks.json, for the gateway's token verifier."""

    def __init__(self, key):
        self.key = key

    def __call__(self, url, timeout=None):
        assert url == METADATA["jwks_uri"]
        return self

    def raise_for_status(self):
        pass

    def json(self):
        return {"keys": [self.key.as_dict(private=False)]}


@pytest.fixture
def fake_sso():
    return FakeSso()


@pytest.fixture
def app(monkeypatch, fake_sso, signing_key):
    app = create_app(
        config={"ATES_AUTH_ISSUER": ISSUER, "GATEWAY_URL": GATEWAY, "BACKEND_URLS": {}}
    )
    tokens.init_app(app, TokenVerifier(ISSUER, http_get=FakeJwks(signing_key)))
    client = app.extensions["authlib.integrations.flask_client"].sso
    monkeypatch.setattr(client, "load_server_metadata", fake_sso.load_server_metadata)
    monkeypatch.setattr(client, "fetch_access_token", fake_sso.fetch_access_token)
    monkeypatch.setattr(sso.requests, "post", fake_sso.revoke)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def token_answer(key, role="developer", expires_in=900, refresh_token="refresh-1"):
    return {
        "access_token": access_token(key, role),
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": refresh_token,
        "scope": sso.SCOPE,
    }


def authorize_params(response) -> dict:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}"
        == METADATA["authorization_endpoint"]
    )
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def sign_in(client, fake_sso, key, role="developer", next_path=None, **answer):
    fake_sso.issued.append(token_answer(key, role, **answer))
    params = authorize_params(
        client.get("/login", query_string={"next": next_path} if next_path else None)
    )
    return client.get("/auth/callback", query_string={"code": "the-code", "state": params["state"]})


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_login_sends_the_browser_to_the_sso_with_pkce(client):
    params = authorize_params(client.get("/login"))
    assert params["client_id"] == "ates-gateway"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == f"{GATEWAY}/auth/callback"
    assert params["scope"] == "openid profile email offline_access ates-api"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43 and params["state"] and params["nonce"]


def test_callback_exchanges_the_code_with_its_verifier_and_signs_in(client, fake_sso, signing_key):
    response = sign_in(client, fake_sso, signing_key)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    (exchange,) = fake_sso.token_requests
    assert exchange["code"] == "the-code"
    assert exchange["redirect_uri"] == f"{GATEWAY}/auth/callback"
    assert len(exchange["code_verifier"]) >= 43
    home = client.get("/").text
    assert "kesha (developer)" in home and "Sign out" in home and ">Sign in<" not in home


@pytest.mark.parametrize(
    "role, shown, hidden",
    [
        (
            "developer",
            ["My tasks", "My balance"],
            ["All tasks", "Reassign", "All accounts", "Analytics", "Dead letters"],
        ),
        ("boss", ["My tasks", "My balance"], ["All tasks", "Income", "Analytics", "RabbitMQ"]),
        (
            "manager",
            ["All tasks", "Reassign open tasks"],
            ["All accounts", "Income", "Analytics", "Dead letters"],
        ),
        (
            "accountant",
            ["All accounts", "Income", "My balance"],
            ["All tasks", "Reassign", "Analytics"],
        ),
        (
            "admin",
            [
                "All tasks",
                "Reassign open tasks",
                "All accounts",
                "Income",
                "Analytics",
                "Dead letters",
                "http://localhost:15672/",
            ],
            [],
        ),
    ],
)
def test_home_shows_the_navigation_of_the_role(client, fake_sso, signing_key, role, shown, hidden):
    sign_in(client, fake_sso, signing_key, role)
    home = client.get("/").text
    for label in shown:
        assert label in home, (role, label)
    for label in hidden:
        assert label not in home, (role, label)


def test_signed_out_home_offers_sign_in_and_no_navigation(client):
    home = client.get("/").text
    assert 'href="/login"' in home and "My tasks" not in home and "Services" in home


def test_callback_with_a_state_we_never_sent_is_refused(client, fake_sso, signing_key):
    fake_sso.issued.append(token_answer(signing_key))
    client.get("/login")
    response = client.get(
        "/auth/callback", query_string={"code": "the-code", "state": "forged-state"}
    )
    assert response.status_code == 400 and "Sign-in failed" in response.text
    assert f"another address than {GATEWAY}" in response.text
    assert fake_sso.token_requests == []
    assert "Sign out" not in client.get("/").text


def test_callback_with_an_error_from_the_sso_is_shown(client):
    state = authorize_params(client.get("/login"))["state"]
    response = client.get(
        "/auth/callback",
        query_string={
            "error": "access_denied",
            "state": state,
            "error_description": "the popug said no",
        },
    )
    assert response.status_code == 400 and "the popug said no" in response.text


def test_an_access_token_not_signed_by_the_sso_is_refused(client, fake_sso):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "sso-key"})
    response = sign_in(client, fake_sso, stranger)
    assert response.status_code == 400 and "Sign-in failed" in response.text
    assert "Sign out" not in client.get("/").text


@pytest.mark.parametrize(
    "next_path, landing",
    [("/tasks?scope=all", "/tasks?scope=all"), ("https://evil.test/", "/"), ("//evil.test/", "/")],
)
def test_after_sign_in_only_a_local_page_is_followed(
    client, fake_sso, signing_key, next_path, landing
):
    response = sign_in(client, fake_sso, signing_key, next_path=next_path)
    assert response.headers["Location"] == landing


def test_login_while_auth_is_down_says_sign_in_is_unavailable(client, fake_sso):
    fake_sso.up = False
    response = client.get("/login")
    assert response.status_code == 503 and "Sign-in is unavailable" in response.text


def test_gateway_starts_and_serves_while_auth_is_down():
    app = create_app(config={"ATES_AUTH_ISSUER": "http://127.0.0.1:9", "BACKEND_URLS": {}})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
    response = client.get("/login")
    assert response.status_code == 503 and "Sign-in is unavailable" in response.text


def test_logout_without_the_csrf_token_is_refused(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    assert client.post("/logout").status_code == 400
    assert "Sign out" in client.get("/").text


def test_logout_ends_both_sessions_and_revokes_the_refresh_token(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == METADATA["end_session_endpoint"]
    )
    assert parse_qs(location.query) == {
        "client_id": ["ates-gateway"],
        "post_logout_redirect_uri": [f"{GATEWAY}/"],
    }
    assert fake_sso.revoked == [(METADATA["revocation_endpoint"], "refresh-1", "ates-gateway")]
    home = client.get("/").text
    assert "Sign out" not in home and 'href="/login"' in home


def test_logout_while_auth_is_down_still_signs_out(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    token = csrf_token(client.get("/").text)
    fake_sso.up = False
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Sign out" not in client.get("/").text


def test_an_access_token_about_to_expire_is_refreshed(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key, "developer", expires_in=30)
    fake_sso.issued.append(token_answer(signing_key, "manager", refresh_token="refresh-2"))
    home = client.get("/").text
    refresh = fake_sso.token_requests[-1]
    assert refresh == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
    assert "kesha (manager)" in home and "All tasks" in home  # the new token's role counts
    with client.session_transaction() as session:
        assert session["sso_tokens"]["refresh_token"] == "refresh-2"
        assert session["sso_tokens"]["expires_at"] > time.time() + 800


def test_a_fresh_access_token_is_not_refreshed(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    client.get("/")
    assert len(fake_sso.token_requests) == 1


def test_a_refused_refresh_signs_the_popug_out(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key, expires_in=30)
    fake_sso.issued.append(
        OAuthError(error="invalid_grant", description="the refresh token is revoked")
    )
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/")
    assert "Sign out" not in client.get("/").text


def test_requests_racing_with_the_old_cookie_share_one_renewal(client, fake_sso, signing_key):
    """Auth takes a second use of a rotated refresh token as theft; the gateway must not make one."""
    sign_in(client, fake_sso, signing_key, expires_in=30)
    old_cookie = client.get_cookie("ates_gateway_session").value
    fake_sso.issued.append(token_answer(signing_key, refresh_token="refresh-2"))
    client.get("/")
    client.set_cookie(
        "ates_gateway_session", old_cookie
    )  # a request that left before the first one's answer
    home = client.get("/").text
    assert [request.get("grant_type") for request in fake_sso.token_requests] == [
        None,
        "refresh_token",
    ]
    assert "Sign out" in home


def test_the_cookie_holds_a_session_id_and_no_tokens(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    cookie = client.get_cookie("ates_gateway_session").value
    assert "refresh-1" not in cookie and "." not in cookie and len(cookie) < 100


def test_a_cookie_copied_before_logout_signs_nobody_in_after_it(app, client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    copied = client.get_cookie("ates_gateway_session").value
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    replay = app.test_client()
    replay.set_cookie("ates_gateway_session", copied)
    home = replay.get("/").text
    assert "Sign out" not in home and 'href="/login"' in home
    response = replay.get("/tasks")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_get_to_logout_signs_nobody_out(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    assert client.get("/logout").status_code == 405
    assert "Sign out" in client.get("/").text and fake_sso.revoked == []


def test_signing_in_gives_a_new_session_id(client, fake_sso, signing_key):
    client.get("/login")
    before = client.get_cookie("ates_gateway_session").value
    sign_in(client, fake_sso, signing_key)
    assert client.get_cookie("ates_gateway_session").value != before


def test_logout_deletes_the_cookie(client, fake_sso, signing_key):
    sign_in(client, fake_sso, signing_key)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert client.get_cookie("ates_gateway_session") is None
