"""Who calls auth's own API: `require_token(*roles)` checks the Bearer access token locally against
auth's published keys (the checks of docs/sso-contract.md) and puts the caller in `g.principal`.

It stands in for the shared `ates/tokens.py` (being written elsewhere) and can call it later. Being
the issuer, auth also refuses revoked tokens and deactivated accounts at once, and takes the role
from its database rather than from the token, so a demoted admin loses access immediately.
"""
import functools
from dataclasses import dataclass

from flask import current_app, g, jsonify, request

from auth import keys, oauth_store, service


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    username: str


def require_token(*roles: str):
    """No roles: any valid token. Missing or bad token → 401 invalid_token; wrong role → 403 forbidden."""
    def decorator(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            principal, problem = _principal()
            if principal is None:
                response = jsonify(error="invalid_token", message=problem)
                response.status_code = 401
                response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
            if roles and principal.role not in roles:
                response = jsonify(error="forbidden", message=f"This needs the role {' or '.join(roles)}.")
                response.status_code = 403
                return response
            g.principal = principal
            return view(*args, **kwargs)
        return guarded
    return decorator


def _principal() -> tuple[Principal | None, str]:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "Send an access token: Authorization: Bearer <token>."
    sessions = current_app.extensions["ates.sessions"]
    try:
        claims = keys.verify_access_token(token.strip(), keys.published_keys(sessions),
                                          current_app.extensions["auth.settings"].issuer)
    except keys.InvalidToken as error:
        return None, f"The access token is not valid ({error})."
    if oauth_store.access_token_revoked(sessions, claims.get("jti") or ""):
        return None, "The access token was revoked."
    account = service.get_active_account(sessions, claims["sub"])
    if account is None:
        return None, "The account of this token does not exist or was deactivated."
    return Principal(account.account_id, account.role, account.username), ""
