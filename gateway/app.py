"""The gateway web service: `create_app()` for gunicorn and for `flask --app gateway.app`."""

import uuid

from flask import Flask, render_template
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from ates import tokens
from ates.bus.users import OPERATOR
from ates.config import Settings, load_settings
from ates.production import check_production
from ates.session_keys import session_key
from ates.web import (
    answer_database_unavailable_with,
    database_unavailable,
    service_app,
    too_large_message,
)
from gateway import (
    accounting,
    analytics,
    dead_letters,
    formatting,
    home,
    notifications,
    renewal,
    server_sessions,
    session,
    sso,
    tasks,
)
from gateway.api_client import ServiceError

BACKENDS = ("auth", "tracker", "accounting", "analytics", "notifier")
DEV_CLIENT_SECRET = "dev-gateway-secret"  # auth's development default too; production sets its own


def create_app(settings: Settings | None = None, config: dict | None = None) -> Flask:
    app = service_app(__name__, "gateway", settings)
    settings = app.config["ATES"]
    gateway_url = settings.service_urls["gateway"]
    app.config.update(
        SECRET_KEY=session_key(settings, settings.gateway_secret_key),
        GATEWAY_CLIENT_SECRET=settings.gateway_client_secret
        or (None if settings.is_production else DEV_CLIENT_SECRET),
        GATEWAY_URL=gateway_url,
        ATES_AUTH_ISSUER=settings.auth_issuer,
        BACKEND_URLS={name: settings.service_urls[name] for name in BACKENDS},
        RABBITMQ_MANAGEMENT_URL=settings.rabbitmq_management_url,
        OPERATOR_AMQP_URL=_operator_amqp_url(),
        # auth on another port of the same host would otherwise overwrite a cookie named "session"
        SESSION_COOKIE_NAME="ates_gateway_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.is_production or gateway_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # a form is good for as long as its session
    )
    app.config.update(config or {})
    check_production(
        settings,
        flask_config=app.config,
        given={
            "ATES_GATEWAY_SECRET_KEY": app.config["SECRET_KEY"],
            "ATES_GATEWAY_CLIENT_SECRET": app.config["GATEWAY_CLIENT_SECRET"],
            "ATES_AUTH_ISSUER": app.config["ATES_AUTH_ISSUER"],
            "ATES_GATEWAY_URL": app.config["GATEWAY_URL"],
        },
    )

    server_sessions.init_app(app)
    CSRFProtect(app)
    login_manager = LoginManager(app)
    login_manager.login_view = "sso.login"
    login_manager.login_message = None
    login_manager.user_loader(session.signed_in_account)
    tokens.init_app(app)
    sso.init_app(app)
    renewal.init_app(app)
    app.register_blueprint(sso.blueprint)
    home.init_app(app)  # the front page, and the navigation in every page's header
    formatting.init_app(app)  # money, times and people written one way on every page
    app.register_blueprint(tasks.blueprint)
    app.register_blueprint(accounting.blueprint)
    app.register_blueprint(dead_letters.blueprint)
    app.register_blueprint(analytics.blueprint)
    notifications.init_app(app)  # the notices pages, and the bell in every page's header
    # a fresh Idempotency-Key in every form that writes: a double submit is done once
    app.jinja_env.globals["idempotency_key"] = lambda: str(uuid.uuid4())
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(ServiceError, _service_failed)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(BadRequest, _bad_request)
    answer_database_unavailable_with(app, _database_unavailable)
    return app


def _operator_amqp_url() -> str | None:
    """The dead-letter pages act as the broker's operator user, never as an administrator."""
    try:
        return load_settings(OPERATOR).amqp_url
    except RuntimeError:  # no password for it here: the page says so
        return None


def _form_expired(error: CSRFError):
    return render_template(
        "problem.html",
        title="The form has expired",
        message="Go back, reload the page and try again.",
    ), 400


def _bad_request(error: BadRequest):
    return render_template(
        "problem.html", title="This request cannot be read", message=error.description
    ), 400


def _too_large(error: RequestEntityTooLarge):
    return render_template("problem.html", title="Too large", message=too_large_message(error)), 413


def _database_unavailable(error: Exception):
    """The web sessions' database cannot serve (read or saved outside the view, by flask-session):
    a page that says so, 503 with Retry-After."""
    retry_after = database_unavailable(error).headers["Retry-After"]  # and its log line
    page = render_template(
        "problem.html",
        title="aTES is unavailable",
        message="Its database cannot be reached right now. Try again in a moment.",
        retry=True,
    )
    return page, 503, {"Retry-After": retry_after}


def _service_failed(error: ServiceError):
    return render_template(
        "problem.html", title="Something went wrong", message=error.message
    ), error.status
