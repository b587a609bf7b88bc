"""The SSO as its clients meet it: the real auth web service (migrated, under gunicorn with two
workers) driven over HTTP through the authorization code flow with PKCE for both clients, and
every refusal the contract (docs/sso-contract.md) promises."""

import base64
import hashlib
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, text

from ates.config import load_settings
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_SECRET = "test-gateway-secret-0123456789"
ADMIN_PASSWORD = "admin-test-password"
CLI_CALLBACK = "http://127.0.0.1:8976/callback"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AuthServer:
    issuer: str
    env: dict
    log: Path

    @property
    def gateway_callback(self) -> str:
        return f"{self.env['ATES_GATEWAY_URL']}/auth/callback"

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def flask(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "auth.app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    var = tmp_path_factory.mktemp("auth-oidc")
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("DATABASE_URL")
        and not name.startswith(("ATES_AUTH", "ATES_GATEWAY", "ATES_ENV"))
    }
    env.update(
        {
            "ATES_VAR_DIR": str(var),
            "ATES_AUTH_PORT": str(port),
            "ATES_AUTH_ISSUER": f"http://127.0.0.1:{port}",
            "ATES_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
            "ATES_GATEWAY_CLIENT_SECRET": GATEWAY_SECRET,
            "ATES_ADMIN_PASSWORD": ADMIN_PASSWORD,
            # Every test here comes from 127.0.0.1; the per-address limit has its own tests
            # (test_auth_login_limits.py).
            "ATES_LOGIN_FAILURES_PER_IP": "1000",
        }
    )
    auth = AuthServer(env["ATES_AUTH_ISSUER"], env, var / "gunicorn.log")
    auth.flask("migrate")
    with open(auth.log, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "auth.app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(
            lambda: healthy(auth.issuer) or process.poll() is not None,
            timeout=60,
            message="auth /healthz",
        )
        assert process.poll() is None, auth.log.read_text()
        yield auth
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in auth.log.read_text(), auth.log.read_text()[-5000:]


# --- the flow, step by step ----------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"="
    ).decode()


def redirect_uri_of(server, client_id: str) -> str:
    return server.gateway_callback if client_id == "ates-gateway" else CLI_CALLBACK


def authorize_query(server, client_id: str, challenge: str | None, **extra) -> dict:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri_of(server, client_id),
        "scope": "openid profile email offline_access ates-api",
        "state": secrets.token_urlsafe(8),
    }
    if challenge:
        query.update(code_challenge=challenge, code_challenge_method="S256")
    query.update(extra)
    return {name: value for name, value in query.items() if value is not None}


def form_fields(page: str) -> dict:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'name="(csrf_token|next)" value="([^"]*)"', page)
    }


def post_login(
    server, browser, username: str, password: str, next_path: str | None = None
) -> requests.Response:
    fields = form_fields(
        browser.get(server.url("/login"), params={"next": next_path} if next_path else None).text
    )
    return browser.post(
        server.url("/login"),
        data={**fields, "username": username, "password": password},
        allow_redirects=False,
    )


def log_in_for_code(server, client_id: str, username: str, password: str, browser=None, **extra):
    """Authorize → login form → login → back to authorize → 302 to the client. Returns (code,
    verifier, query)."""
    browser = browser or requests.Session()
    verifier, challenge = pkce_pair()
    query = authorize_query(server, client_id, challenge, **extra)
    to_login = browser.get(server.url("/oauth/authorize"), params=query, allow_redirects=False)
    assert to_login.status_code == 302 and urlsplit(to_login.headers["Location"]).path == "/login"
    form = browser.get(server.url(to_login.headers["Location"]))
    assert form.status_code == 200 and 'name="password"' in form.text
    fields = form_fields(form.text)
    logged_in = browser.post(
        server.url("/login"),
        data={**fields, "username": username, "password": password},
        allow_redirects=False,
    )
    assert logged_in.status_code == 302, logged_in.text
    assert logged_in.headers["Location"] == fields["next"]
    back = browser.get(server.url(logged_in.headers["Location"]), allow_redirects=False)
    return code_from(back, query), verifier, query


def code_from(response: requests.Response, query: dict) -> str:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == query["redirect_uri"]
    params = parse_qs(location.query)
    assert params["state"] == [query["state"]]
    return params["code"][0]


def token_request(server, client_id: str, secret: str | None = None, **data) -> requests.Response:
    if client_id == "ates-gateway":
        return requests.post(
            server.url("/oauth/token"), data=data, auth=(client_id, secret or GATEWAY_SECRET)
        )
    return requests.post(server.url("/oauth/token"), data={"client_id": client_id, **data})


def exchange(server, client_id: str, code: str, verifier: str, **extra) -> requests.Response:
    return token_request(
        server,
        client_id,
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
        redirect_uri=redirect_uri_of(server, client_id),
        **extra,
    )


def tokens_for(server, client_id: str, username: str, password: str) -> dict:
    code, verifier, _ = log_in_for_code(server, client_id, username, password)
    response = exchange(server, client_id, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def verified(server, token: str, typ: str = "at+jwt", audience: str = "ates-api"):
    """Decode and check a token the way a resource service does: JWKS, RS256, typ, kid, iss, aud, exp, sub."""
    jwks = requests.get(server.url("/.well-known/jwks.json")).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["typ"] == typ
    assert decoded.header["kid"] in {key["kid"] for key in jwks["keys"]}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": server.issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    return decoded


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def admin_token(server) -> str:
    return tokens_for(server, "ates-cli", "admin", ADMIN_PASSWORD)["access_token"]


def new_account(server, admin_token: str, role: str = "developer") -> dict:
    username = f"popug-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        server.url("/api/accounts"),
        headers=bearer(admin_token),
        json={
            "username": username,
            "password": "password-1",
            "email": f"{username}@uberpopug.example",
            "full_name": username.title(),
            "role": role,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


# --- the contract ---------------------------------------------------------------------------------


def test_discovery_document_is_the_contracts(server):
    document = requests.get(server.url("/.well-known/openid-configuration")).json()
    iss = server.issuer
    assert {
        name: document[name]
        for name in (
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
            "revocation_endpoint",
            "response_types_supported",
            "grant_types_supported",
            "code_challenge_methods_supported",
            "id_token_signing_alg_values_supported",
            "scopes_supported",
            "token_endpoint_auth_methods_supported",
        )
    } == {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/oauth/authorize",
        "token_endpoint": f"{iss}/oauth/token",
        "userinfo_endpoint": f"{iss}/oauth/userinfo",
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "end_session_endpoint": f"{iss}/logout",
        "revocation_endpoint": f"{iss}/oauth/revoke",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access", "ates-api"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
    }
    jwks = requests.get(document["jwks_uri"]).json()
    assert jwks["keys"] and all(
        key["kty"] == "RSA" and key["kid"] and "d" not in key for key in jwks["keys"]
    )


@pytest.mark.parametrize("client_id", ["ates-gateway", "ates-cli"])
def test_the_code_flow_with_pkce_gives_tokens_that_verify_refresh_rotates_and_revoke_ends_them(
    server, admin_token, client_id
):
    account = new_account(server, admin_token, role="accountant")
    browser = requests.Session()
    code, verifier, query = log_in_for_code(
        server, client_id, account["username"], "password-1", browser, nonce="n-0S6_WzA2Mj"
    )
    tokens = exchange(server, client_id, code, verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["Cache-Control"] == "no-store"
    tokens = tokens.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900

    access = verified(server, tokens["access_token"])
    assert access.claims["sub"] == account["account_id"] and access.claims["role"] == "accountant"
    assert (
        access.claims["client_id"] == client_id
        and access.claims["preferred_username"] == account["username"]
    )
    assert access.claims["exp"] - access.claims["iat"] == 900 and access.claims["jti"]
    assert set(access.claims["scope"].split()) == {
        "openid",
        "profile",
        "email",
        "offline_access",
        "ates-api",
    }
    id_token = verified(server, tokens["id_token"], typ="JWT", audience=client_id)
    assert {
        name: id_token.claims[name]
        for name in ("sub", "preferred_username", "email", "name", "role", "nonce")
    } == {
        "sub": account["account_id"],
        "preferred_username": account["username"],
        "email": account["email"],
        "name": account["full_name"],
        "role": "accountant",
        "nonce": "n-0S6_WzA2Mj",
    }

    userinfo = requests.get(server.url("/oauth/userinfo"), headers=bearer(tokens["access_token"]))
    assert userinfo.json() == {
        "sub": account["account_id"],
        "preferred_username": account["username"],
        "email": account["email"],
        "name": account["full_name"],
        "role": "accountant",
    }

    # Logged in to auth already: the next authorization goes straight back with a code, no form.
    again = authorize_query(server, client_id, pkce_pair()[1])
    assert code_from(
        browser.get(server.url("/oauth/authorize"), params=again, allow_redirects=False), again
    )

    refreshed = token_request(
        server, client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    refreshed = refreshed.json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]  # rotated
    assert verified(server, refreshed["access_token"]).claims["sub"] == account["account_id"]
    reused = token_request(
        server, client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    revoke_data = {"token": refreshed["access_token"], "token_type_hint": "access_token"}
    auth = (client_id, GATEWAY_SECRET) if client_id == "ates-gateway" else None
    if not auth:
        revoke_data["client_id"] = client_id
    assert (
        requests.post(server.url("/oauth/revoke"), data=revoke_data, auth=auth).status_code == 200
    )
    assert (
        requests.get(
            server.url("/oauth/userinfo"), headers=bearer(refreshed["access_token"])
        ).status_code
        == 401
    )


@pytest.mark.parametrize("client_id", ["ates-gateway", "ates-cli"])
@pytest.mark.parametrize(
    "scope", ["openid profile email", None]
)  # None: no scope asked, none assumed
def test_a_refresh_token_is_issued_only_when_the_client_asks_for_offline_access(
    server, admin_token, client_id, scope
):
    account = new_account(server, admin_token)
    code, verifier, _ = log_in_for_code(
        server, client_id, account["username"], "password-1", scope=scope
    )
    tokens = exchange(server, client_id, code, verifier)
    assert tokens.status_code == 200, tokens.text
    assert "refresh_token" not in tokens.json() and tokens.json()["access_token"]
    assert (
        "offline_access"
        not in verified(server, tokens.json()["access_token"]).claims["scope"].split()
    )


def test_a_token_not_granted_ates_api_may_sign_in_but_not_call_the_api(server, admin_token):
    account = new_account(server, admin_token, role="admin")
    code, verifier, _ = log_in_for_code(
        server, "ates-cli", account["username"], "password-1", scope="openid profile email"
    )
    token = exchange(server, "ates-cli", code, verifier).json()["access_token"]
    assert "ates-api" not in verified(server, token).claims["scope"].split()
    refused = requests.get(server.url("/api/accounts"), headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope", (
        refused.text
    )
    assert (
        refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="ates-api"'
    )
    assert (
        requests.get(server.url("/oauth/userinfo"), headers=bearer(token)).json()["sub"]
        == account["account_id"]
    )


@pytest.mark.parametrize("client_id", ["ates-gateway", "ates-cli"])
def test_a_revoked_refresh_token_no_longer_refreshes(server, admin_token, client_id):
    account = new_account(server, admin_token)
    tokens = tokens_for(server, client_id, account["username"], "password-1")
    data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    auth = (client_id, GATEWAY_SECRET) if client_id == "ates-gateway" else None
    if not auth:
        data["client_id"] = client_id
    assert requests.post(server.url("/oauth/revoke"), data=data, auth=auth).status_code == 200
    refused = token_request(
        server, client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("client_id", ["ates-gateway", "ates-cli"])
@pytest.mark.parametrize(
    "pkce", [{}, {"code_challenge_method": "plain"}, {"code_challenge_method": None}]
)
def test_an_authorization_without_an_s256_challenge_is_refused(server, client_id, pkce):
    query = authorize_query(server, client_id, None)
    if pkce:
        query.update({"code_challenge": secrets.token_urlsafe(48), **pkce})
        query = {name: value for name, value in query.items() if value is not None}
    response = requests.get(server.url("/oauth/authorize"), params=query, allow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == query["redirect_uri"]
    assert (
        params["error"] == ["invalid_request"]
        and "code" not in params
        and params["state"] == [query["state"]]
    )


def test_a_wrong_code_verifier_is_refused(server, admin_token):
    account = new_account(server, admin_token)
    code, _, _ = log_in_for_code(server, "ates-cli", account["username"], "password-1")
    response = exchange(server, "ates-cli", code, pkce_pair()[0])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_missing_code_verifier_is_refused(server, admin_token):
    account = new_account(server, admin_token)
    code, _, _ = log_in_for_code(server, "ates-gateway", account["username"], "password-1")
    response = token_request(
        server,
        "ates-gateway",
        grant_type="authorization_code",
        code=code,
        redirect_uri=server.gateway_callback,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_code_works_once_and_its_reuse_ends_the_tokens_it_gave(server, admin_token):
    account = new_account(server, admin_token)
    code, verifier, _ = log_in_for_code(server, "ates-cli", account["username"], "password-1")
    first = exchange(server, "ates-cli", code, verifier)
    assert first.status_code == 200
    second = exchange(server, "ates-cli", code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    refused = token_request(
        server, "ates-cli", grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
    )
    assert refused.status_code == 400


def test_a_code_is_bound_to_its_client(server, admin_token):
    account = new_account(server, admin_token)
    code, verifier, _ = log_in_for_code(server, "ates-gateway", account["username"], "password-1")
    response = token_request(
        server,
        "ates-cli",
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
        redirect_uri=CLI_CALLBACK,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": CLI_CALLBACK + "/"},
        {"redirect_uri": "http://127.0.0.1:8976/callback?x=1"},
        {"redirect_uri": "http://localhost:8976/callback"},
        {"redirect_uri": None},
        {"client_id": "stranger"},
        {"client_id": None},
    ],
)
def test_an_unknown_client_or_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(
    server, change
):
    query = {**authorize_query(server, "ates-cli", pkce_pair()[1]), **change}
    query = {name: value for name, value in query.items() if value is not None}
    response = requests.get(server.url("/oauth/authorize"), params=query, allow_redirects=False)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "This sign-in link does not work" in response.text


@pytest.mark.parametrize("secret_auth", ["wrong secret", "no secret", "secret in the body, wrong"])
def test_a_wrong_client_secret_is_refused(server, admin_token, secret_auth):
    account = new_account(server, admin_token)
    code, verifier, _ = log_in_for_code(server, "ates-gateway", account["username"], "password-1")
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": server.gateway_callback,
    }
    if secret_auth == "wrong secret":
        response = requests.post(
            server.url("/oauth/token"), data=data, auth=("ates-gateway", "not-the-secret")
        )
    elif secret_auth == "no secret":
        response = requests.post(
            server.url("/oauth/token"), data={**data, "client_id": "ates-gateway"}
        )
    else:
        response = requests.post(
            server.url("/oauth/token"),
            data={**data, "client_id": "ates-gateway", "client_secret": "not-the-secret"},
        )
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("request_kind", ["implicit", "password", "client_credentials"])
def test_only_the_code_and_refresh_grants_exist(server, admin_token, request_kind):
    if request_kind == "implicit":
        query = authorize_query(server, "ates-cli", pkce_pair()[1], response_type="token")
        response = requests.get(server.url("/oauth/authorize"), params=query, allow_redirects=False)
        assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == [
            "unsupported_response_type"
        ]
        return
    data = {"grant_type": request_kind, "username": "admin", "password": ADMIN_PASSWORD}
    response = requests.post(
        server.url("/oauth/token"), data=data, auth=("ates-gateway", GATEWAY_SECRET)
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_wrong_password_and_unknown_user_get_the_same_answer_in_about_the_same_time(
    server, admin_token
):
    known = new_account(server, admin_token)["username"]
    unknown = f"nobody-{uuid.uuid4().hex[:8]}"
    answers, seconds = {}, {known: [], unknown: []}
    for _ in range(3):
        for username in (known, unknown):
            browser = requests.Session()
            fields = form_fields(browser.get(server.url("/login")).text)
            started = time.perf_counter()
            response = browser.post(
                server.url("/login"),
                allow_redirects=False,
                data={**fields, "username": username, "password": "wrong-password"},
            )
            seconds[username].append(time.perf_counter() - started)
            page = response.text.replace(fields["csrf_token"], "TOKEN").replace(
                username, "USERNAME"
            )
            page = re.sub(
                r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="TOKEN"', page
            )
            answers[username] = (response.status_code, page)
    assert answers[known] == answers[unknown]
    assert answers[known][0] == 200 and "Wrong username or password." in answers[known][1]
    ratio = min(seconds[unknown]) / min(seconds[known])
    assert 1 / 3 < ratio < 3, seconds  # both pay for one slow password hash


def test_the_sixth_failed_login_is_refused_with_429_even_with_the_right_password(
    server, admin_token
):
    username = new_account(server, admin_token)["username"]
    browser = requests.Session()
    browser.headers["Connection"] = (
        "close"  # new connections: both gunicorn workers get some attempts
    )
    for attempt in range(5):
        response = post_login(server, browser, username, "wrong-password")
        assert response.status_code == 200 and "Wrong username or password." in response.text, (
            attempt
        )
    refused = post_login(server, browser, username, "password-1")
    assert refused.status_code == 429, refused.text
    assert "Too many failed logins. Try again in 10 minutes." in refused.text
    assert 500 < int(refused.headers["Retry-After"]) <= 600
    other_popug = new_account(server, admin_token)[
        "username"
    ]  # the limit is per client and username
    assert post_login(server, browser, other_popug, "password-1").status_code == 302


@pytest.mark.parametrize("client_id", ["ates-gateway", "ates-cli"])
def test_a_deactivated_account_can_neither_refresh_nor_log_in(server, admin_token, client_id):
    account = new_account(server, admin_token)
    tokens = tokens_for(server, client_id, account["username"], "password-1")
    deactivated = requests.delete(
        server.url(f"/api/accounts/{account['account_id']}"), headers=bearer(admin_token)
    )
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    refused = token_request(
        server, client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert (
        requests.get(
            server.url("/oauth/userinfo"), headers=bearer(tokens["access_token"])
        ).status_code
        == 401
    )
    response = post_login(server, requests.Session(), account["username"], "password-1")
    assert response.status_code == 200 and "This account has been deactivated." in response.text


def test_after_a_key_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(
    server, admin_token
):
    old_kid = verified(server, admin_token).header["kid"]
    new_kid = re.search(r"new signing key (\S+);", server.flask("rotate-key")).group(1)
    assert {
        key["kid"] for key in requests.get(server.url("/.well-known/jwks.json")).json()["keys"]
    } >= {old_kid, new_kid}
    assert requests.get(server.url("/api/accounts"), headers=bearer(admin_token)).status_code == 200
    fresh = tokens_for(server, "ates-cli", "admin", ADMIN_PASSWORD)
    assert verified(server, fresh["access_token"]).header["kid"] == new_kid
    assert (
        verified(server, fresh["id_token"], typ="JWT", audience="ates-cli").header["kid"] == new_kid
    )


def revocation_events(server) -> list[dict]:
    """token.revoked events in auth's outbox: between services, revocation travels only as events."""
    engine = create_engine(load_settings("auth", server.env).database_url)
    try:
        with engine.connect() as connection:
            bodies = connection.execute(
                text("SELECT body FROM outbox WHERE event_type = 'token.revoked'")
            ).scalars()
            return [json.loads(body)["data"] for body in bodies]
    finally:
        engine.dispose()


def revoke(server, client_id: str, token: str, hint: str) -> None:
    data = {"token": token, "token_type_hint": hint}
    auth = (client_id, GATEWAY_SECRET) if client_id == "ates-gateway" else None
    if not auth:
        data["client_id"] = client_id
    assert requests.post(server.url("/oauth/revoke"), data=data, auth=auth).status_code == 200


def test_a_revoked_access_token_is_announced_with_its_jti_account_and_expiry(server, admin_token):
    account = new_account(server, admin_token)
    tokens = tokens_for(server, "ates-gateway", account["username"], "password-1")
    claims = verified(server, tokens["access_token"]).claims
    revoke(server, "ates-gateway", tokens["access_token"], "access_token")
    assert {
        "jti": claims["jti"],
        "account_id": account["account_id"],
        "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat().replace("+00:00", "Z"),
    } in revocation_events(server)


@pytest.mark.parametrize("client_id", ["ates-gateway", "ates-cli"])
def test_revoking_a_refresh_token_also_announces_the_live_access_tokens_of_its_family(
    server, admin_token, client_id
):
    account = new_account(server, admin_token)
    first = tokens_for(server, client_id, account["username"], "password-1")
    second = token_request(
        server, client_id, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    revoke(server, client_id, second["refresh_token"], "refresh_token")
    announced = {
        event["jti"]
        for event in revocation_events(server)
        if event["account_id"] == account["account_id"]
    }
    assert announced == {
        verified(server, tokens["access_token"]).claims["jti"] for tokens in (first, second)
    }
