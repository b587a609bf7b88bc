"""The tracker worker on the real broker: it learns accounts from auth's events and its own
events reach a queue, each valid against its schema."""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ates import migrations
from ates.bus import Event
from ates.db import make_engine
from ates.schemas import registry
from ates.unit_of_work import UnitOfWork
from tests.conftest import eventually
from tracker import service

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker


def account_created(role: str) -> Event:
    account_id = str(uuid.uuid4())
    return Event(
        "account.created",
        1,
        "/auth",
        {
            "account_id": account_id,
            "username": f"popug-{account_id[:6]}",
            "email": "popug@uberpopug.example",
            "full_name": "A Popug",
            "role": role,
            "active": True,
            "version": 1,
        },
    )


def test_tracker_learns_accounts_from_events_and_publishes_valid_task_events(tmp_path, broker):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrations.upgrade(ROOT / "tracker" / "migrations", url)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    with broker.channel() as channel:
        channel.exchange_declare("tracker.events", exchange_type="topic", durable=True)
        channel.queue_declare("observer", durable=True)
        channel.queue_bind("observer", "tracker.events", "task.#")
    env = {**os.environ, "TRACKER_DATABASE_URL": url, **broker.env()}
    declare = subprocess.run([sys.executable, "-m", "tracker.worker", "declare"], cwd=ROOT, env=env)
    assert declare.returncode == 0
    worker = subprocess.Popen(
        [sys.executable, "-m", "tracker.worker"],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "worker.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        developer, manager = account_created("developer"), account_created("manager")
        for event in (developer, manager):
            broker.publish_raw(
                "auth.events", event.routing_key, json.dumps(event.to_message()).encode(), "auth"
            )

        def assignable():
            with uow.read() as session:
                return service.assignable_accounts(session)

        eventually(
            lambda: assignable() == [developer.data["account_id"]],
            message="the developer to become assignable (and the manager not)",
        )
        with uow.begin() as session:
            task = service.create_task(session, manager.data["account_id"], "Feed the parrots")
        with uow.begin() as session:
            service.complete_task(session, developer.data["account_id"], task["task_id"])
        expected = [
            "task.created.v2",
            "task.created.v1",
            "task.assigned.v1",
            "task.completed.v1",
            "task.updated.v2",
        ]
        seen = eventually(
            lambda: (lambda m: m if len(m) >= len(expected) else None)(broker.peek_all("observer")),
            message="the task's five events",
        )
        for message in seen:
            registry().validate(message)
        assert [f"{m['type']}.v{m['dataversion']}" for m in seen] == expected
        assert all(m["data"]["task_id"] == task["task_id"] for m in seen)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        engine.dispose()
