"""Account events travel: changes made through auth's API reach a consumer's queue through auth's
real worker process (outbox relay → RabbitMQ), each valid against its schema, in version order."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ates import migrations
from ates.bus import topology
from ates.config import load_settings
from ates.schemas import registry
from auth import keys, service
from auth.app import create_app
from auth.settings import load_auth_settings
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "http://localhost"
QUEUE = "test.auth-events"

pytestmark = pytest.mark.broker


@pytest.fixture
def database_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    migrations.upgrade(ROOT / "auth" / "migrations", url)
    return url


@pytest.fixture
def app(tmp_path, database_url):
    env = {
        "ATES_VAR_DIR": str(tmp_path),
        "AUTH_DATABASE_URL": database_url,
        "ATES_AUTH_ISSUER": ISSUER,
    }
    return create_app(load_settings("auth", env), load_auth_settings(env))


@pytest.fixture
def consumer_queue(broker):
    with broker.channel() as channel:
        topology.declare_exchange(channel, "auth")
        channel.queue_declare(QUEUE, durable=True)
        channel.queue_bind(QUEUE, topology.exchange_name("auth"), "account.#")
    return QUEUE


@pytest.fixture
def auth_worker(tmp_path, broker, database_url, consumer_queue):
    env = {
        **os.environ,
        **broker.env(),
        "AUTH_DATABASE_URL": database_url,
        "ATES_VAR_DIR": str(tmp_path),
    }
    log_path = tmp_path / "auth-worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "auth.worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield process
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log_path.read_text()


def admin_token(app) -> str:
    uow = app.extensions["ates.uow"]
    admin = next(account for account in service.list_accounts(uow) if account.username == "admin")
    now = int(time.time())
    return keys.sign(
        keys.signing_key(uow),
        {
            "iss": ISSUER,
            "sub": admin.account_id,
            "aud": "ates-api",
            "exp": now + 900,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "client_id": "ates-cli",
            "scope": "openid ates-api",
            "role": "admin",
            "preferred_username": "admin",
        },
        typ="at+jwt",
    )


def take_all(broker, queue: str) -> list[tuple[str, dict]]:
    """(routing key, message) of everything in the queue."""
    taken = []
    with broker.channel() as channel:
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append((method.routing_key, json.loads(body)))


def test_account_changes_reach_a_consumer_queue_valid_and_in_version_order(
    app, broker, consumer_queue, auth_worker
):
    client, headers = app.test_client(), {"Authorization": f"Bearer {admin_token(app)}"}
    created = client.post(
        "/api/accounts",
        headers=headers,
        json={
            "username": "kesha",
            "password": "sunflower-seeds",
            "email": "kesha@uberpopug.example",
            "full_name": "Kesha Popugaev",
            "role": "developer",
        },
    )
    account_id = created.json["account_id"]
    assert (
        client.patch(
            f"/api/accounts/{account_id}", headers=headers, json={"role": "boss"}
        ).status_code
        == 200
    )
    assert client.delete(f"/api/accounts/{account_id}", headers=headers).status_code == 200

    received = []

    def all_five_arrived():
        received.extend(take_all(broker, consumer_queue))
        return len([m for _, m in received if m["data"]["account_id"] == account_id]) >= 5

    eventually(all_five_arrived, timeout=30, message="five account events in the consumer queue")
    for routing_key, message in received:
        registry().validate(message)  # what a consumer does first
        assert routing_key == f"{message['type']}.v{message['dataversion']}"
    messages = [message for _, message in received if message["data"]["account_id"] == account_id]
    assert [
        (key, m["data"]["version"]) for key, m in received if m["data"]["account_id"] == account_id
    ] == [
        ("account.created.v1", 1),
        ("account.role_changed.v1", 2),
        ("account.updated.v1", 2),
        ("account.deactivated.v1", 3),
        ("account.updated.v1", 3),
    ]
    assert all(m["source"] == "/auth" for m in messages)
    assert messages[0]["data"] == {
        "account_id": account_id,
        "username": "kesha",
        "email": "kesha@uberpopug.example",
        "full_name": "Kesha Popugaev",
        "role": "developer",
        "active": True,
        "version": 1,
    }
    assert messages[1]["data"] == {
        "account_id": account_id,
        "role": "boss",
        "previous_role": "developer",
        "version": 2,
    }
    assert messages[4]["data"]["active"] is False and messages[4]["data"]["role"] == "boss"
    seeded_admin = [key for key, m in received if m["data"].get("username") == "admin"]
    assert seeded_admin == ["account.created.v1"]  # the admin made at the first start travels too
