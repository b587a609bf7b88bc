"""The accounting web service: `create_app()` for gunicorn and for `flask --app accounting.app`."""

from flask import Flask

from accounting.api import api
from accounting.api_schemas import SCHEMAS
from accounting.models import accounts, idempotency_keys, inbox, outbox, revoked_tokens
from ates import idempotency, tokens
from ates.config import Settings
from ates.event_log import event_log_blueprint
from ates.openapi import document_api
from ates.production import check_production
from ates.web import service_app


def create_app(settings: Settings | None = None) -> Flask:
    app = service_app(__name__, "accounting", settings)
    check_production(app.config["ATES"])
    # a deactivated account's token, or a revoked one, is refused at once; roles are the replica's
    tokens.init_app(app, accounts=accounts, revoked=revoked_tokens)
    idempotency.init_app(app, idempotency_keys)  # a write sent again with its key: done once
    app.register_blueprint(api)
    app.register_blueprint(event_log_blueprint(outbox, inbox))
    document_api(
        app,
        "aTES accounting",
        schemas=SCHEMAS,
        description="Balances, audit logs, management income and billing days (SPEC §8).",
    )
    return app
