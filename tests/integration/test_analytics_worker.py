"""The analytics worker as a real process on the real broker: events from the tracker and from
accounting, shuffled and duplicated, completions long before their prices, end in the same read
models as an orderly delivery, with each event archived once and nothing dead-lettered."""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analytics.models import event_archive
from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.analytics_events import deliver, generated_month, read_models, shuffled_with_duplicates
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker


def migrated(tmp_path, name: str):
    url = f"sqlite:///{tmp_path / name}"
    migrations.upgrade(ROOT / "analytics" / "migrations", url)
    return url, UnitOfWork(make_engine(url))


def publish(broker, events) -> None:
    broker.publish_events(events, content_type="application/json")


def archived_types(uow) -> dict[str, int]:
    with uow.read() as session:
        query = select(event_archive.c.event_type, func.count()).group_by(
            event_archive.c.event_type
        )
        return dict(session.execute(query).all())


def test_the_worker_counts_shuffled_duplicated_early_events_as_an_orderly_delivery(
    tmp_path, broker
):
    story = generated_month(61, days=10)
    _, orderly = migrated(tmp_path, "orderly.db")
    deliver(orderly, story.events)
    url, uow = migrated(tmp_path, "analytics.db")
    env = {
        **os.environ,
        "ANALYTICS_DATABASE_URL": url,
        **broker.env(),
        "ATES_TIMEZONE": "UTC",
        "ATES_RETRY_DELAYS_MS": "300,600,1200,2400,4800",
    }
    assert (
        subprocess.run(
            [sys.executable, "-m", "analytics.worker", "declare"], cwd=ROOT, env=env
        ).returncode
        == 0
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "analytics.worker"],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "worker.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        tracker_events = [event for event in story.events if event.producer == "tracker"]
        publish(broker, shuffled_with_duplicates(tracker_events, 6))
        waiting_for_prices = Counter(
            event.type for event in tracker_events if event.type != "task.completed"
        )
        eventually(
            lambda: archived_types(uow) == waiting_for_prices,
            timeout=30,
            message="every tracker event but the completions, which wait for their prices",
        )
        accounting_events = [event for event in story.events if event.producer == "accounting"]
        publish(broker, shuffled_with_duplicates(accounting_events, 7))
        expected = read_models(orderly)
        eventually(
            lambda: read_models(uow) == expected,
            timeout=60,
            interval=0.2,
            message="the read models of an orderly delivery",
        )
        with uow.read() as session:
            assert session.scalar(select(func.count()).select_from(event_archive)) == len(
                {e.id for e in story.events}
            )
        for queue in ("analytics.tracker.dead", "analytics.accounting.dead"):
            assert broker.message_count(queue) == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
