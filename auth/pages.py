"""Auth's own browser pages: log in (by password or by beak), sign up, log out, register a beak.

A login starts auth's session (a signed cookie, flask-login), which is what lets /oauth/authorize
skip the form next time. `next` brings the browser back to where it came from, local paths only.
Every form carries a CSRF token (flask-wtf's CSRFProtect, set up in app.py).
"""

import time
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from ates.redirects import local_path
from ates.web import unit_of_work
from auth import beak, service
from auth.beak import BeakPhotoRejected
from auth.domain import RuleBroken
from auth.service import LoginRefused, TooManyFailures

bp = Blueprint("pages", __name__)


class SessionUser(UserMixin):
    """The logged-in account, as flask-login holds it; loaded afresh on every request."""

    def __init__(self, account):
        self.account = account

    def get_id(self):
        return self.account.account_id


def load_session_user(account_id: str) -> SessionUser | None:
    account = service.get_active_account(
        unit_of_work(), account_id
    )  # a deactivated account is logged out
    return SessionUser(account) if account else None


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _limits():
    return current_app.extensions["auth.settings"].login_limits


def _start_session(account) -> None:
    session.clear()  # nothing from before the login survives it
    login_user(SessionUser(account))
    session.permanent = True
    session["auth_time"] = int(time.time())


def _next() -> str | None:
    return local_path(request.values.get("next"))


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("pages.login"))
    return render_template(
        "home.html",
        account=current_user.account,
        has_beak=service.has_beak(unit_of_work(), current_user.account.account_id),
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated and _next():
            return redirect(_next())
        return render_template("login.html", next=_next(), username="")
    username = request.form.get("username", "")
    try:
        account = service.log_in(
            unit_of_work(), username, request.form.get("password", ""), _client_ip(), _limits()
        )
    except LoginRefused as refused:
        return _refused("login.html", refused, username)
    _start_session(account)
    return redirect(_next() or url_for("pages.home"))


@bp.route("/login/beak", methods=["GET", "POST"])
def beak_login():
    if request.method == "GET":
        return render_template("beak_login.html", next=_next(), username="")
    username = request.form.get("username", "")
    try:
        print_hash = beak.beak_print(_uploaded_photo())
    except BeakPhotoRejected as rejected:
        return render_template(
            "beak_login.html", next=_next(), username=username, error=str(rejected)
        ), 400
    try:
        account = service.log_in_by_beak(
            unit_of_work(), username, print_hash, _client_ip(), _limits()
        )
    except LoginRefused as refused:
        return _refused("beak_login.html", refused, username)
    _start_session(account)
    return redirect(_next() or url_for("pages.home"))


def _refused(template: str, refused: LoginRefused, username: str):
    page = render_template(template, next=_next(), username=username, error=str(refused))
    if isinstance(refused, TooManyFailures):
        return page, 429, {"Retry-After": str(refused.retry_after)}
    return page, 200


def _uploaded_photo() -> bytes:
    upload = request.files.get("photo")
    return upload.stream.read(beak.MAX_BYTES + 1) if upload else b""


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if request.method == "GET":
        return render_template("signup.html", next=_next(), form={})
    form = {name: request.form.get(name, "") for name in ("username", "email", "full_name")}
    try:
        account = service.sign_up(
            unit_of_work(),
            _client_ip(),
            _limits(),
            password=request.form.get("password", ""),
            **form,
        )
    except TooManyFailures as refused:
        return (
            render_template("signup.html", next=_next(), form=form, error=str(refused)),
            429,
            {"Retry-After": str(refused.retry_after)},
        )
    except RuleBroken as broken:
        return render_template("signup.html", next=_next(), form=form, error=str(broken)), 400
    _start_session(account)
    return redirect(_next() or url_for("pages.home"))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """RP-initiated logout too: back to `post_logout_redirect_uri` when it is on a client's own origin."""
    logout_user()
    session.clear()
    target = request.values.get("post_logout_redirect_uri", "")
    if target and _origin(target) in _client_origins():
        state = request.values.get("state")
        return redirect(
            f"{target}{'&' if '?' in target else '?'}{urlencode({'state': state})}"
            if state
            else target
        )
    return render_template("logged_out.html")


def _origin(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.scheme, parts.netloc


def _client_origins() -> set[tuple[str, str]]:
    return {
        _origin(uri)
        for client in current_app.extensions["auth.settings"].clients
        for uri in client.redirect_uris
    }


@bp.route("/beak", methods=["GET", "POST"])
@login_required
def register_beak():
    account = current_user.account
    if request.method == "GET":
        return render_template(
            "beak.html", has_beak=service.has_beak(unit_of_work(), account.account_id)
        )
    try:
        service.register_beak(
            unit_of_work(), account.account_id, beak.beak_print(_uploaded_photo())
        )
    except BeakPhotoRejected as rejected:
        return render_template(
            "beak.html",
            has_beak=service.has_beak(unit_of_work(), account.account_id),
            error=str(rejected),
        ), 400
    return render_template(
        "beak.html", has_beak=True, message="Your beak is registered. You can log in with it now."
    )
