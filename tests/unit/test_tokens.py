"""The shared token verifier and `require_role`, against keys made here and a fake JWKS endpoint."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from flask import Flask, g
from joserfc import jwt
from joserfc.jwk import RSAKey

from ates import tokens
from ates.tokens import InvalidToken, SigningKeysUnavailable, TokenVerifier, require_role

ISSUER = "http://auth.test"
ACCOUNT_ID = "8d7f6a52-1b43-4b9e-9a55-0f4c1f6b1c11"


@pytest.fixture(scope="module")
def signing_key():
    return RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def stranger_key():
    return RSAKey.generate_key(2048, parameters={"kid": "key-1"})


class FakeJwksEndpoint:
    """Serves a JWKS like auth's /.well-known/jwks.json and counts how often it is asked."""

    def __init__(self, *keys):
        self.keys = list(keys)
        self.calls = 0

    def __call__(self, url, timeout=None):
        assert url == f"{ISSUER}/.well-known/jwks.json"
        self.calls += 1
        return self

    def raise_for_status(self):
        pass

    def json(self):
        return {"keys": [key.as_dict(private=False) for key in self.keys]}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def claims(**changes):
    now = int(time.time())
    found = {
        "iss": ISSUER,
        "sub": ACCOUNT_ID,
        "aud": "ates-api",
        "iat": now,
        "exp": now + 900,
        "jti": "j1",
        "client_id": "ates-gateway",
        "scope": "openid ates-api",
        "role": "developer",
        "preferred_username": "kesha",
    }
    found.update(changes)
    return {name: value for name, value in found.items() if value is not None}


def signed(key, header=None, **claim_changes):
    header = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid, **(header or {})}
    return jwt.encode(header, claims(**claim_changes), key, algorithms=["RS256"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict, secret: bytes | None) -> str:
    """A token made by hand, as an attacker would: `alg: none`, or HMAC keyed with something public."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def jwks(signing_key):
    return FakeJwksEndpoint(signing_key)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def verifier(jwks, clock):
    return TokenVerifier(ISSUER, http_get=jwks, clock=clock)


@pytest.fixture
def client(verifier):
    app = Flask(__name__)
    tokens.init_app(app, verifier)

    @app.get("/mine")
    @require_role()
    def mine():
        return {
            "account_id": g.principal.account_id,
            "role": g.principal.role,
            "username": g.principal.username,
        }

    @app.get("/income")
    @require_role("admin", "accountant")
    def income():
        return {"ok": True}

    return app.test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_gives_the_principal(client, signing_key):
    response = client.get("/mine", headers=bearer(signed(signing_key)))
    assert response.status_code == 200
    assert response.json == {"account_id": ACCOUNT_ID, "role": "developer", "username": "kesha"}


def test_token_expired_within_the_leeway_is_still_accepted(verifier, signing_key):
    assert verifier.verify(signed(signing_key, exp=int(time.time()) - 10))["sub"] == ACCOUNT_ID


def test_audience_may_be_a_list_containing_ates_api(verifier, signing_key):
    assert verifier.verify(signed(signing_key, aud=["ates-api", "other"]))["sub"] == ACCOUNT_ID


REFUSED = {  # case: (how the token is made, what the refusal says)
    "expired": (lambda key, stranger: signed(key, exp=int(time.time()) - 60), "expired"),
    "signed_by_another_key_with_a_known_kid": (lambda key, stranger: signed(stranger), "signature"),
    "unknown_kid": (
        lambda key, stranger: signed(stranger, header={"kid": "key-from-nowhere"}),
        "key-from-nowhere",
    ),
    "alg_none": (
        lambda key, stranger: forged({"alg": "none", "typ": "at+jwt", "kid": "key-1"}, None),
        "'none'",
    ),
    "hs256_keyed_with_the_public_key": (
        lambda key, stranger: forged(
            {"alg": "HS256", "typ": "at+jwt", "kid": "key-1"}, key.as_pem(private=False)
        ),
        "'HS256'",
    ),
    "wrong_audience": (lambda key, stranger: signed(key, aud="somebody-else"), "aud"),
    "wrong_issuer": (lambda key, stranger: signed(key, iss="http://evil.test"), "iss"),
    "id_token_typ": (lambda key, stranger: signed(key, header={"typ": "JWT"}), "at+jwt"),
    "no_subject": (lambda key, stranger: signed(key, sub=None), "sub"),
    "no_role": (lambda key, stranger: signed(key, role=None), "role"),
    "no_expiry": (lambda key, stranger: signed(key, exp=None), "exp"),
    "no_jti_so_not_revocable": (lambda key, stranger: signed(key, jti=None), "jti"),
    "not_a_jwt": (lambda key, stranger: "this-is-no-token", "not a signed JWT"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_token_is_refused_with_401(client, signing_key, stranger_key, case):
    make, reason = REFUSED[case]
    response = client.get("/mine", headers=bearer(make(signing_key, stranger_key)))
    assert response.status_code == 401, case
    assert response.json["error"] == "invalid_token"
    assert reason in response.json["message"]
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic a2VzaGE6cGFzcw=="}, {"Authorization": "Bearer "}]
)
def test_missing_bearer_token_is_401_with_a_challenge(client, headers):
    response = client.get("/mine", headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "role, status",
    [
        ("admin", 200),
        ("accountant", 200),
        ("manager", 403),
        ("boss", 403),
        ("developer", 403),
    ],
)
def test_only_the_named_roles_pass(client, signing_key, role, status):
    response = client.get("/income", headers=bearer(signed(signing_key, role=role)))
    assert response.status_code == status
    if status == 403:
        assert response.json["error"] == "forbidden"
        assert response.json["message"]


@pytest.mark.parametrize(
    "scope",
    [None, "", "openid profile email offline_access", "openid ates-apix", ["openid", "ates-api"]],
)
def test_a_token_without_the_api_scope_is_refused_with_403_insufficient_scope(
    client, signing_key, scope
):
    response = client.get(
        "/mine", headers=bearer(signed(signing_key, scope=scope if scope is not None else None))
    )
    assert response.status_code == 403, response.json
    assert response.json["error"] == "insufficient_scope" and "ates-api" in response.json["message"]
    assert (
        response.headers["WWW-Authenticate"]
        == 'Bearer error="insufficient_scope", scope="ates-api"'
    )


@pytest.mark.parametrize("scope", ["ates-api", "openid profile ates-api offline_access"])
def test_a_token_with_the_api_scope_among_others_passes(client, signing_key, scope):
    assert client.get("/mine", headers=bearer(signed(signing_key, scope=scope))).status_code == 200


def test_keys_are_fetched_once_and_cached(verifier, jwks, signing_key):
    for _ in range(3):
        verifier.verify(signed(signing_key))
    assert jwks.calls == 1


def test_unknown_kid_refetches_at_most_once_per_30_seconds(
    verifier, jwks, clock, signing_key, stranger_key
):
    verifier.verify(signed(signing_key))
    unknown = signed(stranger_key, header={"kid": "key-from-nowhere"})
    clock.now += 31
    for _ in range(5):
        with pytest.raises(InvalidToken, match="key-from-nowhere"):
            verifier.verify(unknown)
    assert jwks.calls == 2
    clock.now += 29
    with pytest.raises(InvalidToken):
        verifier.verify(unknown)
    assert jwks.calls == 2
    clock.now += 2
    with pytest.raises(InvalidToken):
        verifier.verify(unknown)
    assert jwks.calls == 3


def test_a_rotated_key_is_picked_up_on_its_first_token(verifier, jwks, clock, signing_key):
    verifier.verify(signed(signing_key))
    rotated = RSAKey.generate_key(2048, parameters={"kid": "key-2"})
    jwks.keys.append(rotated)
    clock.now += 31
    assert verifier.verify(signed(rotated))["sub"] == ACCOUNT_ID


def unreachable(url, timeout=None):
    raise tokens.requests.ConnectionError("auth is down")


def test_auth_down_is_refused_and_retried_soon(clock, signing_key):
    verifier = TokenVerifier(ISSUER, http_get=unreachable, clock=clock)
    with pytest.raises(SigningKeysUnavailable, match="cannot be fetched"):
        verifier.verify(signed(signing_key))


def test_a_token_that_cannot_be_checked_while_auth_is_down_gets_503_to_retry_not_401(
    clock, signing_key
):
    """A web process started while the SSO is down knows no signing keys yet: the token may be
    good, so the client is told to come back (503, Retry-After), not that its token is bad."""
    app = Flask(__name__)
    tokens.init_app(app, TokenVerifier(ISSUER, http_get=unreachable, clock=clock))

    @app.get("/mine")
    @require_role()
    def mine():
        return {"ok": True}

    response = app.test_client().get("/mine", headers=bearer(signed(signing_key)))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"] == "sso_unavailable"
    assert "WWW-Authenticate" not in response.headers


def test_issuer_comes_from_the_environment():
    assert tokens.auth_issuer({"ATES_AUTH_ISSUER": "https://sso.example/"}) == "https://sso.example"
    assert tokens.auth_issuer({"ATES_AUTH_PORT": "6001"}) == "http://localhost:6001"


def test_a_token_verified_once_is_believed_without_a_second_signature_check(
    verifier, signing_key, monkeypatch
):
    token = signed(signing_key)
    first = verifier.verify(token)
    checks = []
    monkeypatch.setattr(verifier, "_verify", lambda token: checks.append(token) or {})
    assert verifier.verify(token) == first
    assert checks == []
    first["role"] = "admin"  # what a caller does with its copy changes nothing remembered
    assert verifier.verify(token)["role"] == "developer"


def test_a_remembered_token_is_checked_again_after_a_minute_or_at_its_expiry(
    verifier, signing_key, monkeypatch
):
    now = time.time()
    long_lived, nearly_expired = signed(signing_key), signed(signing_key, exp=int(now) - 20)
    verifier.verify(long_lived)
    verifier.verify(nearly_expired)  # 20 s past exp: within the 30 s leeway
    monkeypatch.setattr(tokens.time, "time", lambda: now + 15)
    verifier.verify(long_lived)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(nearly_expired)  # past exp + leeway, remembered or not
    monkeypatch.setattr(tokens.time, "time", lambda: now + tokens.VERIFIED_FOR_S + 1)
    again = {"exp": now + 900, "checked": "again"}
    monkeypatch.setattr(verifier, "_verify", lambda token: again)
    assert verifier.verify(long_lived) == again


def test_a_refused_token_is_not_remembered(verifier, stranger_key):
    token = signed(stranger_key)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(token)
    assert verifier._verified == {}
