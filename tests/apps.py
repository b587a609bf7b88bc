"""Resource services' apps for tests, as one function: on a migrated database of the test's own,
trusting a stand-in SSO (tests/issuer.py). The `service_app` fixture (tests/integration/conftest.py)
is this with the test's folder and issuer; a test that runs outside a fixture calls it directly."""

import importlib
import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import insert

from ates import tokens
from ates.config import load_settings
from tests.issuer import StandInIssuer


def resource_app(name: str, var: Path, issuer: StandInIssuer, **env: str) -> Flask:
    """tracker, accounting or analytics, migrated, its tokens checked against `issuer`."""
    settings = load_settings(name, {"ATES_VAR_DIR": str(var), **env})
    app = importlib.import_module(f"{name}.app").create_app(settings)
    tokens.init_app(app, issuer.verifier())
    app.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
    return app


def tracker_accounts(app: Flask, roles) -> dict[str, str]:
    """One active account of each role in the tracker's replica; role -> account id."""
    from tracker import domain
    from tracker.models import accounts

    found = {role: str(uuid.uuid4()) for role in roles}
    with app.extensions["ates.uow"].begin() as session:
        session.execute(
            insert(accounts),
            [
                {
                    "account_id": account_id,
                    "username": role,
                    "role": role,
                    "active": True,
                    "assignable": domain.is_assignable(role, True),
                    "version": 1,
                }
                for role, account_id in found.items()
            ],
        )
    return found


def replica_account(app: Flask, **values) -> str:
    """A new account in the service's replica of auth's accounts, with these columns; its id."""
    service = app.config["ATES"].service
    replica = importlib.import_module(f"{service}.models").accounts
    account_id = str(uuid.uuid4())
    with app.extensions["ates.uow"].begin() as session:
        session.execute(insert(replica).values(account_id=account_id, **values))
    return account_id
