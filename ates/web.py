"""What every aTES web service has in common: settings, database, JSON errors, /healthz, `migrate`,
JSON logs, a correlation id on every request (docs/observability.md), /metrics, the browser-security
headers on every answer, a limit on the size of a request body and no NUL in a request (README,
"What every web service refuses")."""

import logging
from pathlib import Path

import click
from flask import Flask, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy import exc, text
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    RequestEntityTooLarge,
)

from ates import correlation, logs, metrics, migrations
from ates.config import Settings, load_settings
from ates.db import make_engine
from ates.rules import RuleBroken, refusal
from ates.text import printable_part
from ates.unit_of_work import UnitOfWork

# No inline script or style anywhere (pages load theirs from /static), so an injected <script> or
# on…= attribute does nothing; no framing, so no clickjacking. `form-action` is left out on purpose:
# browsers apply it to the redirect after a form, and the SSO's login form ends on the client's origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # a task's or a letter's address is nobody else's business
}


def service_app(import_name: str, service: str, settings: Settings | None = None) -> Flask:
    app = Flask(import_name)
    settings = settings or load_settings(service)
    app.config["ATES"] = settings
    # Bodies larger than this are refused before anything reads them. A view that needs more (auth's
    # beak photo) names its endpoint in ATES_BODY_LIMITS.
    app.config.update(MAX_CONTENT_LENGTH=settings.max_request_bytes, ATES_BODY_LIMITS={})
    logs.configure_logging(
        service, "web", force=False
    )  # under gunicorn; a test runner keeps its own
    app.before_request(_take_correlation_id)
    app.after_request(_return_correlation_id)
    app.teardown_request(_forget_correlation_id)
    app.before_request(_refuse_large_bodies)
    app.before_request(_refuse_nul)
    app.after_request(_add_security_headers)
    metrics.init_app(app)
    app.register_error_handler(HTTPException, json_error)
    app.register_error_handler(RuleBroken, refusal)  # ates/rules.py: every service's refusals
    app.register_error_handler(ValidationError, invalid_input)
    app.register_error_handler(RequestEntityTooLarge, too_large_json)
    for error in DATABASE_ERRORS:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(InternalServerError, internal_error)
    migrations_dir = Path(app.root_path) / "migrations"
    if migrations_dir.is_dir():
        engine = make_engine(settings.database_url)
        app.extensions["ates.engine"] = engine
        app.extensions["ates.uow"] = UnitOfWork(engine)

        @app.cli.command("migrate")
        def migrate():
            """Bring this service's database to the newest schema."""
            migrations.upgrade(migrations_dir, settings.database_url)
            click.echo(f"{service}: database at head")

    @app.get("/healthz")
    def healthz():
        engine = app.extensions.get("ates.engine")
        if engine is not None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        return {"status": "ok", "service": service}

    return app


def unit_of_work() -> UnitOfWork:
    """The running app's unit of work (ates/unit_of_work.py)."""
    return current_app.extensions["ates.uow"]


def _take_correlation_id() -> None:
    """The caller's X-Correlation-Id when it is sane, else a new one, for everything this request causes."""
    value = correlation.accept(request.headers.get(correlation.HEADER))
    request.environ["ates.correlation"] = (value, correlation.set_current(value))


def _return_correlation_id(response):
    taken = request.environ.get("ates.correlation")
    if taken is not None:
        response.headers[correlation.HEADER] = taken[0]
    return response


def _forget_correlation_id(_error=None) -> None:
    taken = request.environ.pop("ates.correlation", None)
    if taken is not None:
        try:
            correlation.reset(taken[1])
        except (
            ValueError
        ):  # set in another context (a copied one): nothing of ours to restore there
            correlation.set_current(None)


def _refuse_large_bodies() -> None:
    """By the declared length at once; a body sent without one is cut off by werkzeug at the same limit."""
    endpoint_limit = current_app.config["ATES_BODY_LIMITS"].get(request.endpoint)
    if endpoint_limit is not None:
        request.max_content_length = endpoint_limit
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(_larger_than(limit))


def _refuse_nul() -> None:
    """A NUL in the path, the query or a form field: PostgreSQL can neither store nor compare it (a 500
    wherever it reached a query). Nothing aTES takes has one; JSON bodies are ates/json_body.py's."""
    fields = [("path", "", request.path)] + [
        ("query", name, value) for name, value in request.args.items(multi=True)
    ]
    if request.mimetype in FORM_TYPES:
        fields += [("form", name, value) for name, value in request.form.items(multi=True)]
    for where, name, value in fields:
        if "\x00" in name or "\x00" in value:
            field = f" field {printable_part(name)!r}" if name else ""
            raise BadRequest(
                f"The {where}{field} contains a NUL character (U+0000); nothing in aTES may."
            )


def _larger_than(limit: int) -> str:
    return f"The request body is larger than the {describe_bytes(limit)} allowed here."


def describe_bytes(count: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def too_large_json(error: RequestEntityTooLarge):
    return json_error(RequestEntityTooLarge(too_large_message(error)))


def too_large_message(error: RequestEntityTooLarge) -> str:
    if (
        error.description == RequestEntityTooLarge.description
    ):  # werkzeug's own words, from a streamed body
        return _larger_than(request.max_content_length or 0)
    return error.description or ""


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def json_error(error: HTTPException):
    code = (error.name or "error").lower().replace(" ", "_")
    response = jsonify(error=code, message=error.description)
    response.status_code = error.code or 500
    for name, value in error.get_headers():  # e.g. the `Allow` a 405 must carry (RFC 9110)
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


DATABASE_RETRY_AFTER_S = 2
# what SQLAlchemy raises when the database cannot serve: refused, lost or out of connections, a
# deadlock it broke (OperationalError), or none free in the pool within its timeout (TimeoutError)
DATABASE_ERRORS = (exc.OperationalError, exc.TimeoutError)


def database_unavailable(error: Exception):
    """The database refused or lost the connection (down, restarting, out of connections, a
    deadlock it broke): 503 with words and Retry-After, not a bare 500. Whether a write that failed
    this way committed is not known here, so the answer promises nothing about it; the same
    Idempotency-Key makes the retry safe (docs/idempotency.md)."""
    reason = str(getattr(error, "orig", None) or error).strip().partition("\n")[0]
    logging.getLogger(__name__).warning("database unavailable: %s", reason)
    response = jsonify(
        error="database_unavailable",
        message="the database is not answering right now; try again in a moment (a write sent "
        "again with the same Idempotency-Key is not done twice)",
    )
    response.status_code = 503
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return response


def answer_database_unavailable_with(app: Flask, answer) -> None:
    """An app whose pages say it on a page (the gateway, auth) names its own answer to a database
    that cannot serve; `database_unavailable` is everyone else's. It is used wherever the failure
    arrives: in a view, or while the answer is finished (a web session's save)."""
    app.extensions["ates.database_unavailable"] = answer


def _database_unavailable(error: Exception):
    return current_app.extensions.get("ates.database_unavailable", database_unavailable)(error)


def internal_error(error: InternalServerError):
    """What no handler took, or what failed while the answer was being finished (the gateway's
    web session is saved then): the database's 503 when that was the cause, else JSON's 500."""
    if isinstance(error.original_exception, DATABASE_ERRORS):
        return _database_unavailable(error.original_exception)
    return json_error(error)


def invalid_input(error: ValidationError):
    """A request marshmallow refused: every field's reason, for a person and (`fields`) for a program."""
    return jsonify(
        error="invalid_input", message=describe_fields(error.messages), fields=error.messages
    ), 400


def describe_fields(messages) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{name}: {describe_fields(inner)}" for name, inner in messages.items())
    if isinstance(messages, list):
        return " ".join(str(message) for message in messages)
    return str(messages)
