"""Offline verification of the SSO's access tokens (RS256 JWTs, RFC 9068) for every resource service.

`require_role(...)` guards a Flask view and puts the caller in `flask.g.principal`.
"""
import functools
import os
import threading
import time
from dataclasses import dataclass

import requests
from flask import current_app, g, jsonify, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from ates.config import service_url

AUDIENCE = "ates-api"
API_SCOPE = "ates-api"  # the scope a token needs for any resource service's API (docs/sso-contract.md)
REFETCH_INTERVAL = 30.0  # an unknown kid refetches the keys at most this often, so bad kids cannot hammer auth
RETRY_AFTER_FAILURE = 2.0  # while auth cannot be reached, try again this soon
LEEWAY = 30
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InsufficientScope(InvalidToken):
    """A valid token that was not granted the API's scope: 403 `insufficient_scope` (RFC 6750 §3.1)."""


def check_api_scope(claims: dict, needed: str = API_SCOPE) -> None:
    """The audience says which services may accept a token; the scope says the person let the
    client call them. A token asked only for sign-in (`openid`) may not call the APIs."""
    scope = claims.get("scope")
    if needed not in (scope.split() if isinstance(scope, str) else []):
        raise InsufficientScope(f"this token was not granted the scope {needed}; sign in again asking for it")


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    username: str | None


def auth_issuer(env=None) -> str:
    env = os.environ if env is None else env
    return env.get("ATES_AUTH_ISSUER", service_url("auth", env)).rstrip("/")


class TokenVerifier:
    def __init__(self, issuer: str, audience: str = AUDIENCE, jwks_url: str | None = None,
                 http_get=requests.get, clock=time.monotonic):
        self.issuer, self.audience = issuer, audience
        self.jwks_url = jwks_url or f"{issuer}/.well-known/jwks.json"
        self._http_get, self._clock = http_get, clock
        self._keys: KeySet | None = None
        self._next_fetch_at = 0.0
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict:
        """The token's claims, or InvalidToken saying why it is refused."""
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError):
            raise InvalidToken("the token is not a signed JWT") from None
        if header.get("alg") != "RS256":
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted, only RS256")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("the token is not an access token (typ must be at+jwt)")
        try:
            claims = jwt.decode(token, self._key(header.get("kid")), algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY, iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                sub={"essential": True}, exp={"essential": True}, role={"essential": True},
            ).validate(claims)
        except JoseError as error:
            raise InvalidToken(error.description or error.error.replace("_", " ")) from None
        return claims

    def principal(self, token: str) -> Principal:
        claims = self.verify(token)
        check_api_scope(claims)
        return Principal(claims["sub"], claims["role"], claims.get("preferred_username"))

    def _key(self, kid):
        with self._lock:
            if self._keys is None or not self._knows(kid):
                self._refetch()
            if self._keys is None:
                raise InvalidToken("the signing keys cannot be fetched from the SSO")
            if not self._knows(kid):
                raise InvalidToken(f"no signing key with kid {kid!r}")
            return self._keys.get_by_kid(kid)

    def _knows(self, kid) -> bool:
        return kid is not None and any(key.kid == kid for key in self._keys or ())

    def _refetch(self) -> None:
        now = self._clock()
        if now < self._next_fetch_at:
            return
        try:
            response = self._http_get(self.jwks_url, timeout=5)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
            self._next_fetch_at = now + REFETCH_INTERVAL
        except (requests.RequestException, ValueError, KeyError, JoseError):
            self._next_fetch_at = now + RETRY_AFTER_FAILURE


def init_app(app, verifier: TokenVerifier | None = None, accounts=None) -> TokenVerifier:
    """`accounts`: the service's replica of auth's accounts (a table with `account_id` and
    `active`), when it keeps one. A token is offline proof of who signed in, not that the account
    is still active; with a replica, a token of an account the replica knows to be deactivated is
    refused at once instead of when it expires."""
    issuer = app.config.get("ATES_AUTH_ISSUER") or auth_issuer()
    app.extensions["ates.tokens"] = verifier or TokenVerifier(issuer)
    if accounts is not None:
        app.extensions["ates.account_replica"] = accounts
    return app.extensions["ates.tokens"]


def verifier_for(app) -> TokenVerifier:
    return app.extensions.get("ates.tokens") or init_app(app)


def require_role(*roles: str):
    """Let the view run only for a valid bearer token, and, when roles are named, only for those roles."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _refused(401, "invalid_token", "sign in first: an Authorization: Bearer token is required",
                                challenge="Bearer")
            try:
                g.principal = verifier_for(current_app).principal(token.strip())
            except InsufficientScope as error:
                return _refused(403, "insufficient_scope", error.reason,
                                challenge=f'Bearer error="insufficient_scope", scope="{API_SCOPE}"')
            except InvalidToken as error:
                return _refused(401, "invalid_token", error.reason, challenge='Bearer error="invalid_token"')
            if _deactivated(g.principal.account_id):
                return _refused(401, "account_deactivated", "this account has been deactivated",
                                challenge='Bearer error="invalid_token"')
            if roles and g.principal.role not in roles:
                return _refused(403, "forbidden", f"this needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)
        return guarded
    return decorate


def _deactivated(account_id: str) -> bool:
    """Known to the replica and inactive; an account the replica has not heard of yet passes."""
    replica = current_app.extensions.get("ates.account_replica")
    if replica is None:
        return False
    with current_app.extensions["ates.read_sessions"]() as session:
        active = session.scalar(select(replica.c.active).where(replica.c.account_id == account_id))
    return active is False


def _refused(status: int, code: str, message: str, challenge: str | None = None):
    """A JSON error; a 401 says in WWW-Authenticate how to authenticate (RFC 6750: no error code when none was sent)."""
    response = jsonify(error=code, message=message)
    response.status_code = status
    if challenge:
        response.headers["WWW-Authenticate"] = challenge
    return response
