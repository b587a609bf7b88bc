"""Keeping the signed-in popug's access token valid: renewed with the refresh token shortly before it expires.

Auth rotates refresh tokens and takes a second use of one as theft (it revokes the whole family), so
requests racing with the same cookie share one renewal instead of each asking auth.
"""

import hashlib
import threading
import time

from authlib.common.errors import AuthlibBaseError
from flask import current_app, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from ates.tokens import InvalidToken, verifier_for
from gateway import session as sign_ins
from gateway.sso import SSO_DOWN, sso_client, unavailable

RENEW_MARGIN = 60  # seconds before expiry at which the access token is renewed
REMEMBERED_FOR = (
    120  # seconds a renewal is handed to late requests that still carry the old refresh token
)


class SignInRequired(Exception):
    """The popug has no valid SSO session any more (never signed in, renewal refused, account deactivated)."""


class SsoUnavailable(Exception):
    """Auth cannot be reached just now."""


class Renewals:
    """The renewals of the last minutes in this process, by refresh token, and one lock to make them
    one at a time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.recent: dict[str, tuple[float, dict]] = {}

    def renew(self, refresh_token: str) -> dict:
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        with self.lock:
            now = time.monotonic()
            self.recent = {
                k: done for k, done in self.recent.items() if now - done[0] < REMEMBERED_FOR
            }
            if key not in self.recent:
                answer = sso_client().fetch_access_token(
                    grant_type="refresh_token", refresh_token=refresh_token
                )
                self.recent[key] = (now, answer)
            return self.recent[key][1]


def init_app(app) -> None:
    app.extensions["gateway.renewals"] = Renewals()
    app.before_request(_keep_tokens_fresh)
    app.register_error_handler(SignInRequired, _sign_in_again)
    app.register_error_handler(SsoUnavailable, lambda error: unavailable())


def access_token() -> str:
    """The signed-in popug's access token, renewed first when it is about to expire."""
    tokens = sign_ins.stored_tokens()
    if not tokens:
        raise SignInRequired()
    if tokens["expires_at"] - RENEW_MARGIN > time.time():
        return tokens["access_token"]
    if not tokens.get("refresh_token"):
        raise SignInRequired()
    try:
        fresh = current_app.extensions["gateway.renewals"].renew(tokens["refresh_token"])
        principal = verifier_for(current_app).principal(fresh["access_token"])
    except SSO_DOWN as error:
        raise SsoUnavailable() from error
    except (AuthlibBaseError, InvalidToken) as error:
        raise SignInRequired() from error
    login_user(sign_ins.remember_sign_in(principal, fresh))  # the role may have changed since
    return fresh["access_token"]


def _keep_tokens_fresh():
    if (
        request.endpoint in (None, "sso.logout", "healthz", "static")
        or not current_user.is_authenticated
    ):
        return
    try:
        access_token()
    except SsoUnavailable:
        pass  # pages that need a backend say so themselves; the rest still work


def _sign_in_again(error: SignInRequired):
    logout_user()
    sign_ins.forget_sign_in()
    return redirect(
        url_for(
            "sso.login", next=request.full_path.rstrip("?") if request.method == "GET" else None
        )
    )
