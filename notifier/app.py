"""The notifier web service: `create_app()` for gunicorn and for `flask --app notifier.app`."""

from flask import Flask

from ates import tokens
from ates.config import Settings
from ates.event_log import event_log_blueprint
from ates.openapi import document_api
from ates.production import check_production
from ates.web import service_app
from notifier.api import SCHEMAS, api
from notifier.models import accounts, inbox, revoked_tokens


def create_app(settings: Settings | None = None) -> Flask:
    app = service_app(__name__, "notifier", settings)
    check_production(app.config["ATES"])
    # a deactivated account's token, or a revoked one, is refused at once; roles are the replica's
    tokens.init_app(app, accounts=accounts, revoked=revoked_tokens)
    app.register_blueprint(api)
    app.register_blueprint(event_log_blueprint(None, inbox))
    document_api(
        app,
        "aTES notifier",
        schemas=SCHEMAS,
        description="A popug's own notices and mail settings (SPEC §8); every role, own only.",
    )
    return app
