"""The tracker web service: `create_app()` for gunicorn and for `flask --app tracker.app`."""
from flask import Flask

from ates import tokens
from ates.config import Settings
from ates.web import service_app
from tracker.api import api


def create_app(settings: Settings | None = None) -> Flask:
    app = service_app(__name__, "tracker", settings)
    tokens.init_app(app)
    app.register_blueprint(api)
    return app
