"""The auth web service: `create_app()` for gunicorn and for `flask --app auth.app`."""
from flask import Flask

from ates.config import Settings
from ates.web import service_app


def create_app(settings: Settings | None = None) -> Flask:
    return service_app(__name__, "auth", settings)
