"""What every aTES web service has in common: settings, database, JSON errors, /healthz, `migrate`."""
from pathlib import Path

import click
from flask import Flask, jsonify
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from ates import migrations
from ates.config import Settings, load_settings
from ates.db import make_engine, make_sessions


def service_app(import_name: str, service: str, settings: Settings | None = None) -> Flask:
    app = Flask(import_name)
    settings = settings or load_settings(service)
    app.config["ATES"] = settings
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


def _json_error(error: HTTPException):
    code = (error.name or "error").lower().replace(" ", "_")
    response = jsonify(error=code, message=error.description)
    response.status_code = error.code or 500
    return response
