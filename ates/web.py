"""What every aTES web service has in common: settings, database, JSON errors, /healthz, `migrate`,
JSON logs, a correlation id on every request (docs/observability.md) and /metrics."""
from pathlib import Path

import click
from flask import Flask, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from ates import correlation, logs, metrics, migrations
from ates.config import Settings, load_settings
from ates.db import make_engine, make_sessions


def service_app(import_name: str, service: str, settings: Settings | None = None) -> Flask:
    app = Flask(import_name)
    settings = settings or load_settings(service)
    app.config["ATES"] = settings
    logs.configure_logging(service, "web", force=False)  # under gunicorn; a test runner keeps its own
    app.before_request(_take_correlation_id)
    app.after_request(_return_correlation_id)
    app.teardown_request(_forget_correlation_id)
    metrics.init_app(app)
    app.register_error_handler(HTTPException, _json_error)
    migrations_dir = Path(app.root_path) / "migrations"
    if migrations_dir.is_dir():
        engine = make_engine(settings.database_url)
        app.extensions["ates.engine"] = engine
        app.extensions["ates.sessions"] = make_sessions(engine)
        app.extensions["ates.read_sessions"] = make_sessions(engine, read_only=True)

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
        except ValueError:  # set in another context (a copied one): nothing of ours to restore there
            correlation.set_current(None)


def _json_error(error: HTTPException):
    code = (error.name or "error").lower().replace(" ", "_")
    response = jsonify(error=code, message=error.description)
    response.status_code = error.code or 500
    for name, value in error.get_headers():  # e.g. the `Allow` a 405 must carry (RFC 9110)
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
