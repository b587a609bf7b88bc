"""The auth web service: `create_app()` for gunicorn and for `flask --app auth.app`.

Commands: `migrate` (schema to head, then the first signing key, the configured OAuth clients and
the admin), `rotate-key`, `retire-key KID`. In production it refuses to start on weak settings
(ates.production), before it seeds anything.
"""

import os
from datetime import timedelta

import click
from flask import Flask, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import inspect
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from ates import idempotency
from ates.config import Settings
from ates.openapi import document_api
from ates.production import check_production
from ates.session_keys import session_key
from ates.web import (
    answer_database_unavailable_with,
    database_unavailable,
    json_error,
    service_app,
    too_large_json,
    too_large_message,
)
from auth import admin, api, keys, oauth_api, oauth_store, pages, service
from auth.models import idempotency_keys
from auth.oauth import create_provider
from auth.settings import AuthSettings, load_auth_settings

PHOTO_REQUEST_BYTES = (
    8 * 1024 * 1024
)  # a beak photo (5 MB at most) and its form; other bodies: ATES_MAX_REQUEST_BYTES
PHOTO_ENDPOINTS = ("pages.beak_login", "pages.register_beak")


def create_app(
    settings: Settings | None = None, auth_settings: AuthSettings | None = None
) -> Flask:
    auth_settings = auth_settings or load_auth_settings()
    app = service_app(__name__, "auth", settings)
    settings = app.config["ATES"]
    if auth_settings.issuer.startswith("http://"):
        # authlib refuses plain http except on loopback; development may use another name (compose's
        # auth.localhost). Production never gets here: ates.production refuses an http issuer.
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    app.config.update(
        SECRET_KEY=session_key(settings, auth_settings.secret_key),
        SESSION_COOKIE_NAME="ates_auth_session",  # browsers share cookies across ports: not the gateway's
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.is_production or auth_settings.issuer.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
    )
    check_production(
        settings,
        given=auth_settings.production_values(),
        flask_config=app.config,
        more_problems=auth_settings.admin_password_problems(),
    )
    app.config["ATES_BODY_LIMITS"].update(dict.fromkeys(PHOTO_ENDPOINTS, PHOTO_REQUEST_BYTES))
    app.extensions["auth.settings"] = auth_settings
    idempotency.init_app(app, idempotency_keys)  # the account API's writes sent again: done once

    login_manager = LoginManager(app)
    login_manager.login_view = "pages.login"
    login_manager.user_loader(pages.load_session_user)
    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # Bearer tokens, no cookies: nothing a forged request could borrow
    csrf.exempt(oauth_api.bp)  # authenticated by client credentials and PKCE, not by the session
    app.extensions["auth.provider"] = create_provider(app)
    for blueprint in (pages.bp, admin.bp, api.bp, oauth_api.bp):
        app.register_blueprint(blueprint)
    document_api(
        app,
        "aTES auth",
        description="Accounts, for admins (SPEC §8). The OpenID Connect "
        "endpoints are described by /.well-known/openid-configuration.",
    )
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(BadRequest, _bad_request)
    answer_database_unavailable_with(app, _database_unavailable)
    _register_commands(app, auth_settings)
    if inspect(app.extensions["ates.engine"]).has_table("signing_keys"):
        _seed(app, auth_settings)  # before `migrate` has run there is nothing to seed into
    return app


def _seed(app: Flask, auth_settings: AuthSettings) -> None:
    """Idempotent: the first signing key, the clients as configured, the admin account."""
    uow = app.extensions["ates.uow"]
    keys.ensure_signing_key(uow)
    oauth_store.save_clients(uow, auth_settings.clients)
    service.ensure_admin(uow, auth_settings.admin_password)


def _register_commands(app: Flask, auth_settings: AuthSettings) -> None:
    migrate_schema = app.cli.commands["migrate"].callback
    uow = app.extensions["ates.uow"]

    @app.cli.command("migrate")
    def migrate():
        """Bring the database to the newest schema; make the signing key, clients and admin."""
        migrate_schema()
        _seed(app, auth_settings)
        click.echo("auth: signing key, OAuth clients and admin ready")

    @app.cli.command("rotate-key")
    def rotate_key():
        """A new key signs from now on; older keys stay in the JWKS until retired."""
        click.echo(
            f"auth: new signing key {keys.rotate(uow)}; older keys stay published until retired"
        )

    @app.cli.command("retire-key")
    @click.argument("kid")
    def retire_key(kid):
        """Stop publishing a key that no longer signs (wait until its tokens have expired)."""
        if not keys.retire(uow, kid):
            raise click.ClickException(f"{kid}: no such key that is not active and not retired yet")
        click.echo(f"auth: key {kid} retired")


def _form_expired(error: CSRFError):
    return render_template(
        "error.html",
        title="This form has expired",
        message="Go back, reload the page and send the form again.",
    ), 400


def _bad_request(error: BadRequest):
    """E.g. a NUL in a form field (ates/web.py): a page for a person, JSON for the API and OAuth."""
    if request.path.startswith(("/api/", "/oauth/")):
        return json_error(error)
    return render_template(
        "error.html", title="This request cannot be read", message=error.description
    ), 400


def _database_unavailable(error: Exception):
    """The sign-in pages say it on a page; the API and the OAuth endpoints in JSON (ates/web.py)."""
    response = database_unavailable(error)
    if request.path.startswith(("/api/", "/oauth/")):
        return response
    page = render_template(
        "error.html",
        title="Sign-in is unavailable",
        message="The sign-in service cannot reach its database right now. Try again in a moment.",
    )
    return page, 503, {"Retry-After": response.headers["Retry-After"]}


def _too_large(error: RequestEntityTooLarge):
    """A page says it on a page; the API and the OAuth endpoints in JSON (ates/web.py)."""
    if request.path.startswith(("/api/", "/oauth/")):
        return too_large_json(error)
    return render_template("error.html", title="Too large", message=too_large_message(error)), 413
