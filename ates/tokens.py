"""Offline verification of the SSO's access tokens (RS256 JWTs, RFC 9068) for every resource service.

`require_role(...)` guards a Flask view and puts the caller in `flask.g.principal`.
"""

import functools
import threading
import time
from dataclasses import dataclass, replace

import requests
from flask import current_app, g, jsonify, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, select

from ates import idempotency, revocations
from ates.config import auth_issuer  # noqa: F401 — the CLI and tests find it here too
from ates.web import unit_of_work

AUDIENCE = "ates-api"
API_SCOPE = (
    "ates-api"  # the scope a token needs for any resource service's API (docs/sso-contract.md)
)
REFETCH_INTERVAL = (
    30.0  # an unknown kid refetches the keys at most this often, so bad kids cannot hammer auth
)
RETRY_AFTER_FAILURE = 2.0  # while auth cannot be reached, try again this soon
LEEWAY = 30
# A token verified once is believed for this long (never past its exp): the signature check and the
# claims' validation are most of what the guard costs, and a client sends the same token many
# times. Revocation and the replica's word are still asked on every request; what the cache can
# keep believing is only a token signed by a key the SSO has since withdrawn, for at most this.
VERIFIED_FOR_S = 60.0
VERIFIED_KEPT = 10_000  # tokens remembered at most; the memory is cleared when full
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
LEAST_PRIVILEGED_ROLE = (
    "developer"  # SPEC §3: the sign-up role, which may do only what every role may
)


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SigningKeysUnavailable(InvalidToken):
    """The SSO's signing keys are not known here yet and the SSO cannot be reached: the token may
    well be good. An API answers 503 with Retry-After, not 401 (a client would drop a good token);
    callers that only know InvalidToken still refuse it."""


class InsufficientScope(InvalidToken):
    """A valid token that was not granted the API's scope: 403 `insufficient_scope` (RFC 6750 §3.1)."""


def check_api_scope(claims: dict, needed: str = API_SCOPE) -> None:
    """The audience says which services may accept a token; the scope says the person let the
    client call them. A token asked only for sign-in (`openid`) may not call the APIs."""
    scope = claims.get("scope")
    if needed not in (scope.split() if isinstance(scope, str) else []):
        raise InsufficientScope(
            f"this token was not granted the scope {needed}; sign in again asking for it"
        )


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    username: str | None
    token_id: str | None = None  # the access token's jti, by which the SSO revokes it


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str = AUDIENCE,
        jwks_url: str | None = None,
        http_get=requests.get,
        clock=time.monotonic,
    ):
        self.issuer, self.audience = issuer, audience
        self.jwks_url = jwks_url or f"{issuer}/.well-known/jwks.json"
        self._http_get, self._clock = http_get, clock
        self._keys: KeySet | None = None
        self._next_fetch_at = 0.0
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[float, dict]] = {}  # token -> (believed until, claims)

    def verify(self, token: str) -> dict:
        """The token's claims, or InvalidToken saying why it is refused."""
        now = time.time()  # the claims' clock: exp is wall time
        believed = self._verified.get(token)
        if believed is not None and now <= believed[0]:
            return dict(believed[1])
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()
        until = min(float(claims["exp"]) + LEEWAY, now + VERIFIED_FOR_S)
        self._verified[token] = (until, dict(claims))
        return claims

    def _verify(self, token: str) -> dict:
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError):
            raise InvalidToken("the token is not a signed JWT") from None
        if header.get("alg") != "RS256":
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted, only RS256")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("the token is not an access token (typ must be at+jwt)")
        if not isinstance(
            header.get("kid"), str
        ):  # JSON lets it be anything; no key of ours is named by a non-string
            raise InvalidToken("the token's header names no signing key (kid must be a string)")
        try:
            claims = jwt.decode(token, self._key(header.get("kid")), algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                sub={"essential": True},
                exp={"essential": True},
                role={"essential": True},
                jti={"essential": True},  # RFC 9068 §2.2; a token without one could not be revoked
            ).validate(claims)
        except JoseError as error:
            raise InvalidToken(error.description or error.error.replace("_", " ")) from None
        return claims

    def principal(self, token: str) -> Principal:
        claims = self.verify(token)
        check_api_scope(claims)
        return Principal(
            claims["sub"], claims["role"], claims.get("preferred_username"), claims["jti"]
        )

    def _key(self, kid):
        with self._lock:
            if self._keys is None or not self._knows(kid):
                self._refetch()
            if self._keys is None:
                raise SigningKeysUnavailable("the signing keys cannot be fetched from the SSO")
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


def init_app(
    app, verifier: TokenVerifier | None = None, accounts=None, revoked=None
) -> TokenVerifier:
    """`accounts`: the service's replica of auth's accounts (a table with `account_id`, `active`
    and `role`), when it keeps one. A token is offline proof of who signed in, not of what the
    account may do now: with a replica, a token of an account the replica knows to be deactivated
    is refused at once, and a known account whose role changed since its token was signed gets only
    what every role may do, so a demotion takes effect as soon as its event arrives.

    `revoked`: the service's table of revoked tokens (ates/revocations.py), fed by auth's
    `token.revoked` events: a token revoked at the SSO is refused here too, before it expires."""
    if verifier is None:
        verifier = TokenVerifier(
            app.config.get("ATES_AUTH_ISSUER") or app.config["ATES"].auth_issuer
        )
    app.extensions["ates.tokens"] = verifier
    if accounts is not None or revoked is not None:
        app.extensions["ates.what_this_service_knows"] = _question(accounts, revoked)
    return app.extensions["ates.tokens"]


def _question(replica, revoked_tokens):
    """The one statement asked on every request about its caller (`account_id`, `jti`): whether
    the token is revoked, as this service heard from auth's token.revoked events, and the
    replica's `active` and `role`. Built once: building it per request cost more than running it."""
    asked = []
    if revoked_tokens is not None:  # a token without a jti asks `jti = NULL`: never revoked
        asked.append(revocations.revoked(revoked_tokens, bindparam("jti")).label("revoked"))
    if replica is not None:
        mine = replica.c.account_id == bindparam("account_id")
        asked.append(select(replica.c.active).where(mine).scalar_subquery().label("active"))
        asked.append(select(replica.c.role).where(mine).scalar_subquery().label("role"))
    return select(*asked)


def verifier_for(app) -> TokenVerifier:
    return app.extensions.get("ates.tokens") or init_app(app)


def require_role(*roles: str):
    """Let the view run only for a valid bearer token, and, when roles are named, only for those roles."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _refused(
                    401,
                    "invalid_token",
                    "sign in first: an Authorization: Bearer token is required",
                    challenge="Bearer",
                )
            try:
                principal = verifier_for(current_app).principal(token.strip())
            except InsufficientScope as error:
                return _refused(
                    403,
                    "insufficient_scope",
                    error.reason,
                    challenge=f'Bearer error="insufficient_scope", scope="{API_SCOPE}"',
                )
            except SigningKeysUnavailable as error:
                response = _refused(503, "sso_unavailable", f"{error.reason}; try again shortly")
                response.headers["Retry-After"] = str(int(RETRY_AFTER_FAILURE))
                return response
            except InvalidToken as error:
                return _refused(
                    401, "invalid_token", error.reason, challenge='Bearer error="invalid_token"'
                )
            revoked, known = _what_this_service_knows(principal)
            if revoked:
                return _refused(
                    401,
                    "token_revoked",
                    "this access token has been revoked (signed out): sign in again",
                    challenge='Bearer error="invalid_token"',
                )
            g.principal = _as_the_replica_knows_it(principal, known)
            if g.principal is None:
                return _refused(
                    401,
                    "account_deactivated",
                    "this account has been deactivated",
                    challenge='Bearer error="invalid_token"',
                )
            if roles and g.principal.role not in roles:
                return _refused(403, "forbidden", f"this needs the role {' or '.join(roles)}")
            return idempotency.call_view(view, *args, **kwargs)

        return guarded

    return decorate


def _what_this_service_knows(principal: Principal):
    """(revoked, the replica's row or None) for the token's caller, in one read (`_question`)."""
    question = current_app.extensions.get("ates.what_this_service_knows")
    if question is None:
        return False, None
    found = (
        unit_of_work()
        .read_one(question, {"jti": principal.token_id, "account_id": principal.account_id})
        ._mapping
    )
    if found.get("revoked"):
        return True, None
    # an account the replica has not heard of: both subqueries are NULL (active never is)
    known = Known(found["active"], found["role"]) if found.get("active") is not None else None
    return False, known


@dataclass(frozen=True)
class Known:
    """The replica's row of the caller: what this service heard from auth's account events."""

    active: bool
    role: str | None


def _as_the_replica_knows_it(principal: Principal, known) -> Principal | None:
    """The caller as the replica's row `known` says it is now; None when it is deactivated.

    Where the replica's role and the token's `role` claim differ, the account's role changed since
    the token was signed: the caller gets only what every role may do (LEAST_PRIVILEGED_ROLE) until
    it brings a token with the new role. A demotion so takes effect at once, and a replica that is
    behind or was rebuilt from an incomplete history can take a role away but never grant one the
    SSO did not sign (a promotion waits for the next token, at most ATES_ACCESS_TOKEN_TTL).

    An account the replica has not heard of yet keeps its token's role: the replica lags auth by
    the time its account.* events take, while an access token lives a few minutes only and was
    signed from auth's own, current record. Refusing it instead would lock a new account out of
    every service until the events arrive.
    """
    if known is None:
        return principal
    if known.active is False:
        return None
    # role None: an analytics row from before it kept roles; it knows only the active flag
    if known.role is not None and known.role != principal.role:
        return replace(principal, role=LEAST_PRIVILEGED_ROLE)
    return principal


def _refused(status: int, code: str, message: str, challenge: str | None = None):
    """A JSON error; a 401 says in WWW-Authenticate how to authenticate (RFC 6750: no error code
    when none was sent)."""
    response = jsonify(error=code, message=message)
    response.status_code = status
    if challenge:
        response.headers["WWW-Authenticate"] = challenge
    return response
