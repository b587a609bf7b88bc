"""A rebuild while the worker applies events, on SQLite and on PostgreSQL: nothing is lost or
counted twice, and the end is what an orderly delivery gives. On SQLite the write lock
serialises the two; on PostgreSQL the rebuild locks the archive, which the worker writes first."""

import threading
import time
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analytics import archive, rebuild, service
from analytics.models import event_archive
from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.analytics_events import (
    deliver,
    generated_month,
    read_models,
    seed_002_story,
    shuffled_with_duplicates,
)
from tests.databases import postgres_database

ROOT = Path(__file__).resolve().parents[2]


def migrated(url: str):
    migrations.upgrade(ROOT / "analytics" / "migrations", url)
    return UnitOfWork(make_engine(url))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, monkeypatch):
    monkeypatch.setenv("ATES_TIMEZONE", "UTC")
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'analytics.db'}"
        return
    with postgres_database("analytics_test") as url:
        yield url


def test_a_rebuild_while_events_arrive_loses_nothing_and_counts_nothing_twice(
    database_url, tmp_path
):
    story = generated_month(71, days=20)
    orderly = migrated(f"sqlite:///{tmp_path / 'orderly.db'}")
    deliver(orderly, story.events)
    uow = migrated(database_url)
    half = len(story.events) // 2
    deliver(uow, story.events[:half])
    still_arriving = shuffled_with_duplicates(
        story.events[half:] + story.events[:half:3], 8
    )  # with redeliveries
    worker = threading.Thread(
        target=deliver, args=(uow, still_arriving), kwargs={"batch_size": 10, "pause": 0.01}
    )
    worker.start()
    replayed = []
    for _ in range(3):  # each rebuild runs while the worker thread still has events to apply
        with uow.begin() as session:
            replayed.append(sum(rebuild.rebuild_read_models(session, UTC).replayed.values()))
        assert worker.is_alive(), (
            "the worker finished before the rebuilds: nothing ran concurrently"
        )
        time.sleep(0.05)
    worker.join()
    assert replayed == sorted(replayed) and replayed[0] < replayed[-1], (
        "the worker applied events between rebuilds"
    )
    assert read_models(uow) == read_models(orderly)
    with uow.read() as session:
        assert session.scalar(select(func.count()).select_from(event_archive)) == len(
            {e.id for e in story.events}
        )
        found = service.most_expensive_task(session, story.first_day, story.last_day)
    assert found["task"].task_id == story.top_task_of_range
    uow.dispose()


def test_the_worker_waits_while_a_rebuild_holds_the_archive(database_url):
    uow = migrated(database_url)
    story = seed_002_story()
    applying = threading.Thread(target=deliver, args=(uow, story.events))
    with uow.begin() as rebuilding:
        archive.hold_off_archiving(rebuilding)
        rebuilding.execute(select(func.count()).select_from(event_archive))
        applying.start()
        applying.join(timeout=1.0)
        assert applying.is_alive(), "the worker applied events in the middle of a rebuild"
    applying.join(timeout=30)
    assert not applying.is_alive()
    with uow.read() as session:
        assert session.scalar(select(func.count()).select_from(event_archive)) == len(story.events)
    uow.dispose()
