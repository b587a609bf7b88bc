"""Who is signed in to the gateway: the account and its SSO tokens, kept in the server-side session
(gateway/server_sessions.py); the browser holds only the session's id.
"""

import time

from flask import current_app, session
from flask_login import UserMixin

from ates.tokens import Principal


class SignedInAccount(UserMixin):
    def __init__(self, account_id: str, username: str | None, role: str):
        self.account_id, self.username, self.role = account_id, username, role

    def get_id(self) -> str:
        return self.account_id

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


def remember_sign_in(principal: Principal, token: dict) -> SignedInAccount:
    """Keep who signed in and the tokens the SSO gave; a refresh may omit the refresh token, so keep
    the old one."""
    if (
        "account" not in session
    ):  # a new sign-in gets a new session id: one planted before it is worth nothing
        current_app.session_interface.regenerate(session)
    previous = session.get("sso_tokens", {})
    session["account"] = {
        "account_id": principal.account_id,
        "username": principal.username,
        "role": principal.role,
    }
    session["sso_tokens"] = {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") or previous.get("refresh_token"),
        "expires_at": int(token.get("expires_at") or time.time() + int(token.get("expires_in", 0))),
    }
    return signed_in_account(principal.account_id)


def signed_in_account(account_id: str) -> SignedInAccount | None:
    """flask-login's user loader: the account of this session's cookie."""
    account = session.get("account")
    if not account or account["account_id"] != account_id:
        return None
    return SignedInAccount(account["account_id"], account["username"], account["role"])


def stored_tokens() -> dict | None:
    return session.get("sso_tokens")


def forget_sign_in() -> None:
    """Empty the session: the server-side store then deletes its row and the browser its cookie."""
    session.clear()
