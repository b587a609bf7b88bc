"""Resource services' apps for tests, as one function: on a migrated database of the test's own,
trusting a stand-in SSO (tests/issuer.py). The `service_app` fixture (tests/integration/conftest.py)
is this with the test's folder and issuer; a test that runs outside a fixture calls it directly."""

import importlib
import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import insert

from ates import clock, tokens
from ates.config import load_settings
from ates.unit_of_work import UnitOfWork
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
                    "full_name": f"{role.title()} Popug",
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


def gateway_in_front_of(backends: dict[str, Flask], monkeypatch, **config) -> Flask:
    """The gateway, its API client reaching each named backend app in process at
    `http://<name>.test` (a requests.Response made from the test client's answer)."""
    import requests

    from gateway import api_client
    from gateway.app import create_app

    clients = {f"http://{name}.test": app.test_client() for name, app in backends.items()}

    def over_the_wire(method, url, params=None, json=None, headers=None, timeout=None):
        base = next((base for base in clients if url.startswith(base)), None)
        assert base is not None, f"the gateway called {url}, no backend of this test"
        answer = clients[base].open(
            url.removeprefix(base), method=method, query_string=params, json=json, headers=headers
        )
        response = requests.Response()
        response.status_code, response._content = answer.status_code, answer.data
        response.headers.update(answer.headers)
        return response

    monkeypatch.setattr(api_client.requests, "request", over_the_wire)
    urls = {name: f"http://{name}.test" for name in backends}
    return create_app(config={"BACKEND_URLS": urls, **config})


def signed_in(
    gateway: Flask,
    issuer: StandInIssuer,
    role: str,
    account_id: str | None = None,
    username: str | None = None,
):
    """A test client of the gateway with a signed-in session, as after the SSO's code flow."""
    import time

    client = gateway.test_client()
    account_id = account_id or str(uuid.uuid4())
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = account_id, True
        session["account"] = {
            "account_id": account_id,
            "username": username or f"{role}-popug",
            "role": role,
        }
        session["sso_tokens"] = {
            "access_token": issuer.token(account_id, role),
            "refresh_token": None,
            "expires_at": int(time.time()) + 900,
        }
    return client


def open_tasks(uow: UnitOfWork, count: int, popug_count: int = 20) -> tuple[list[str], list[str]]:
    """`popug_count` assignable popugs in the tracker's replica and `count` open tasks spread over
    them; (their account ids, the task ids)."""
    popugs = [str(uuid.uuid4()) for _ in range(popug_count)]
    task_ids = [str(uuid.uuid4()) for _ in range(count)]
    now = clock.utcnow()
    from tracker.models import accounts, tasks  # tests/apps.py serves every service: here only

    with uow.begin() as session:
        session.execute(
            insert(accounts),
            [
                {
                    "account_id": a,
                    "username": f"p{n}",
                    "role": "developer",
                    "active": True,
                    "assignable": True,
                    "version": 1,
                }
                for n, a in enumerate(popugs)
            ],
        )
        session.execute(
            insert(tasks),
            [
                {
                    "task_id": task_id,
                    "jira_id": None,
                    "title": f"task {n}",
                    "description": "",
                    "status": "open",
                    "assignee_id": popugs[n % len(popugs)],
                    "created_at": now,
                    "completed_at": None,
                    "version": 1,
                }
                for n, task_id in enumerate(task_ids)
            ],
        )
    return popugs, task_ids
