"""Who calls auth's own API: `require_token(*roles)` checks the Bearer access token locally against
auth's published keys (the checks of docs/sso-contract.md) and puts the caller in `g.principal`.

It stands in for the shared `ates/tokens.py` (being written elsewhere) and can call it later. Being
the issuer, auth also refuses revoked tokens and deactivated accounts at once, and takes the role
from its database rather than from the token, so a demoted admin loses access immediately.
"""

import functools
from dataclasses import dataclass

from flask import current_app, g, jsonify, request

from ates import idempotency
from ates.web import unit_of_work
from auth import keys, oauth_store, service
from auth.settings import API_SCOPE


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    username: str


class Refused(Exception):
    """Why the caller may not pass: the HTTP status, the error code, the challenge and the words."""

    def __init__(self, status: int, error: str, message: str, challenge: str | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.challenge = status, error, message, challenge


def require_token(*roles: str, scope: str = API_SCOPE):
    """No roles: any valid token. Missing or bad token → 401 invalid_token; a token not granted
    `scope` → 403 insufficient_scope (RFC 6750 §3.1); wrong role → 403 forbidden."""

    def decorator(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            try:
                principal = _principal(scope)
                if roles and principal.role not in roles:
                    raise Refused(403, "forbidden", f"This needs the role {' or '.join(roles)}.")
            except Refused as refused:
                response = jsonify(error=refused.error, message=refused.message)
                response.status_code = refused.status
                if refused.challenge:
                    response.headers["WWW-Authenticate"] = refused.challenge
                return response
            g.principal = principal
            return idempotency.call_view(view, *args, **kwargs)

        return guarded

    return decorator


def _invalid(message: str) -> Refused:
    return Refused(401, "invalid_token", message, 'Bearer error="invalid_token"')


def _principal(scope: str) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid("Send an access token: Authorization: Bearer <token>.")
    uow = unit_of_work()
    try:
        claims = keys.verify_access_token(
            token.strip(), keys.published_keys(uow), current_app.extensions["auth.settings"].issuer
        )
    except keys.InvalidToken as error:
        raise _invalid(f"The access token is not valid ({error}).") from None
    if scope not in (claims["scope"].split() if isinstance(claims.get("scope"), str) else []):
        raise Refused(
            403,
            "insufficient_scope",
            f"This token was not granted the scope {scope}; sign in again asking for it.",
            f'Bearer error="insufficient_scope", scope="{scope}"',
        )
    if oauth_store.access_token_revoked(uow, claims.get("jti") or ""):
        raise _invalid("The access token was revoked.")
    account = service.get_active_account(uow, claims["sub"])
    if account is None:
        raise _invalid("The account of this token does not exist or was deactivated.")
    return Principal(account.account_id, account.role, account.username)
