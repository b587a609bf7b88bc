"""The provider's HTTP endpoints: authorize, token, revoke, userinfo, discovery and JWKS.

/oauth/authorize never redirects to an address it has not matched exactly against the client's:
an unknown client or redirect URI gets an error page (400) instead.
"""

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_login import current_user

from ates.web import unit_of_work
from auth import keys, service
from auth.bearer import require_token
from auth.oauth import user_info
from auth.settings import SCOPES

bp = Blueprint("oauth", __name__)


def _provider():
    return current_app.extensions["auth.provider"]


@bp.get("/oauth/authorize")
def authorize():
    provider = _provider()
    account = current_user.account if current_user.is_authenticated else None
    try:
        grant = provider.get_consent_grant(end_user=account)
    except OAuth2Error as error:
        if (
            error.redirect_uri
        ):  # the client and its redirect URI are known and matched: tell the client
            return provider.handle_error_response(None, error)
        return render_template(
            "error.html",
            title="This sign-in link does not work",
            message=error.description or error.error,
        ), 400
    if account is None:
        return redirect(url_for("pages.login", next=request.full_path))
    return provider.create_authorization_response(
        grant=grant, grant_user=account
    )  # first-party: no consent


@bp.post("/oauth/token")
def token():
    return _provider().create_token_response()


@bp.post("/oauth/revoke")
def revoke():
    return _provider().create_endpoint_response("revocation")


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@require_token(scope="openid")  # OIDC core §5.3: userinfo answers tokens of an OpenID sign-in
def userinfo():
    return user_info(service.get_account(unit_of_work(), g.principal.account_id))


@bp.get("/.well-known/openid-configuration")
def discovery():
    issuer = current_app.extensions["auth.settings"].issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "end_session_endpoint": f"{issuer}/logout",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "scopes_supported": list(SCOPES),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "preferred_username", "email", "name", "role"],
    }


@bp.get("/.well-known/jwks.json")
def jwks():
    response = current_app.json.response(keys.jwks(unit_of_work()))
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
