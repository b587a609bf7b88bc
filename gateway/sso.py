"""Signing in through the SSO (authorization code + PKCE, as the confidential client `ates-gateway`) and out.

The SSO's discovery document is read on the first sign-in, so the gateway starts while auth is down.
"""

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from joserfc.errors import JoseError

from ates.redirects import local_path
from ates.tokens import InvalidToken, SigningKeysUnavailable, verifier_for
from gateway import session as sign_ins

CLIENT_ID = "ates-gateway"
SCOPE = "openid profile email offline_access ates-api"  # a refresh token; calling the services
SSO_DOWN = (
    requests.RequestException,
    ValueError,
    SigningKeysUnavailable,  # its keys, needed to check the token it gave, cannot be fetched
)  # unreachable, or answering something that is no JSON

blueprint = Blueprint("sso", __name__)


def init_app(app) -> None:
    OAuth(app).register(
        "sso",
        client_id=CLIENT_ID,
        client_secret=app.config["GATEWAY_CLIENT_SECRET"],
        server_metadata_url=f"{app.config['ATES_AUTH_ISSUER']}/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "default_timeout": 5},
    )


def sso_client():
    return current_app.extensions["authlib.integrations.flask_client"].sso


@blueprint.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    session["after_sign_in"] = local_path(request.args.get("next"))
    try:
        return sso_client().authorize_redirect(f"{current_app.config['GATEWAY_URL']}/auth/callback")
    except SSO_DOWN:
        return unavailable()


@blueprint.get("/auth/callback")
def callback():
    try:
        token = sso_client().authorize_access_token()
        principal = verifier_for(current_app).principal(token["access_token"])
    except SSO_DOWN:
        return unavailable()
    except MismatchingStateError:
        return render_template(
            "problem.html",
            title="Sign-in failed",
            retry=True,
            message=(
                "This sign-in was not started here, or it was started at another address than "
                f"{current_app.config['GATEWAY_URL']}. Open that address and sign in again."
            ),
        ), 400
    except (AuthlibBaseError, JoseError, InvalidToken) as error:
        reason = getattr(error, "description", None) or getattr(error, "reason", None) or str(error)
        return render_template(
            "problem.html", title="Sign-in failed", message=reason, retry=True
        ), 400
    login_user(sign_ins.remember_sign_in(principal, token))
    # checked again: a cookie signed before this check existed may still carry an older target
    return redirect(local_path(session.pop("after_sign_in", None)) or url_for("home.home"))


@blueprint.post("/logout")
def logout():
    """End the gateway session, then send the browser to the SSO so that its session ends too."""
    tokens = sign_ins.stored_tokens() or {}
    logout_user()
    sign_ins.forget_sign_in()
    try:
        metadata = sso_client().load_server_metadata()
    except SSO_DOWN:
        return redirect(url_for("home.home"))
    if tokens.get("refresh_token"):
        _revoke(metadata.get("revocation_endpoint"), tokens["refresh_token"])
    end_session = metadata.get("end_session_endpoint")
    if not end_session:
        return redirect(url_for("home.home"))
    return redirect(
        add_params_to_uri(
            end_session,
            [
                ("client_id", CLIENT_ID),
                ("post_logout_redirect_uri", f"{current_app.config['GATEWAY_URL']}/"),
            ],
        )
    )


def _revoke(endpoint: str | None, refresh_token: str) -> None:
    """Best effort: the refresh token dies with the session, even if someone copied the cookie."""
    if not endpoint:
        return
    try:
        requests.post(
            endpoint,
            data={"token": refresh_token, "token_type_hint": "refresh_token"},
            auth=(CLIENT_ID, current_app.config["GATEWAY_CLIENT_SECRET"]),
            timeout=3,
        )
    except requests.RequestException:
        pass


def unavailable():
    return render_template(
        "problem.html",
        title="Sign-in is unavailable",
        message="The SSO (the auth service) cannot be reached right now. Try again in a minute.",
        retry=True,
    ), 503
