"""The analytics web service: `create_app()` for gunicorn and for `flask --app analytics.app`
(`migrate`, and `rebuild`, which rebuilds every read model from the event archive)."""

import click
from flask import Flask

from analytics import rebuild as rebuilding
from analytics.api import api
from analytics.models import accounts, inbox, revoked_tokens
from ates import tokens
from ates.config import Settings
from ates.event_log import event_log_blueprint
from ates.openapi import document_api
from ates.production import check_production
from ates.web import service_app


def create_app(settings: Settings | None = None) -> Flask:
    app = service_app(__name__, "analytics", settings)
    check_production(app.config["ATES"])
    # a deactivated or demoted admin's token, or a revoked one, is refused at once
    tokens.init_app(app, accounts=accounts, revoked=revoked_tokens)
    app.register_blueprint(api)
    app.register_blueprint(event_log_blueprint(None, inbox))
    document_api(
        app, "aTES analytics", description="The admins' dashboard figures (SPEC §8); admins only."
    )

    @app.cli.command("rebuild")
    def rebuild():
        """Wipe the read models and rebuild them from the archive of every applied event."""
        try:
            with app.extensions["ates.uow"].begin() as session:
                report = rebuilding.rebuild_read_models(session, app.config["ATES"].timezone)
        except rebuilding.RebuildFailed as error:
            raise click.ClickException(f"rebuild failed, nothing changed: {error}") from None
        click.echo("\n".join(report.lines()))

    return app
