"""How a reassignment batch finds its tasks on PostgreSQL: the job's undone items come from their
partial index in order, also for a job whose items were all written a moment ago (the job's start
brings the table's statistics up to date), so a batch costs the same at the end of a big job as at
its start."""

import uuid
from pathlib import Path

import pytest

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.apps import open_tasks
from tests.databases import postgres_database
from tracker import reassigning

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def uow():
    with postgres_database("reassignment_reads") as url:
        migrations.upgrade(ROOT / "tracker" / "migrations", url)
        engine = make_engine(url)
        yield UnitOfWork(engine)
        engine.dispose()


def plan(session, query) -> str:
    compiled = query.compile(dialect=session.get_bind().dialect)
    cursor = session.connection().connection.dbapi_connection.cursor()
    cursor.execute(f"EXPLAIN {compiled}", compiled.params)
    return "\n".join(row[0] for row in cursor.fetchall())


def test_a_batch_reads_the_next_items_in_order_from_their_partial_index(uow):
    open_tasks(uow, 20_000)
    with uow.begin() as session:
        job = reassigning.start_reassignment(session, str(uuid.uuid4()))
    for _ in range(4):  # a part of the job done: the items behind are done, not gone
        with uow.begin() as session:
            reassigning.reassign_batch(session, job["reassignment_id"], batch_size=2_000)
    with uow.begin() as session:
        found = plan(session, reassigning.next_items(job["reassignment_id"], 500))
    assert "Index Scan using ix_reassignment_items_undone" in found, found
    assert "Sort" not in found, found
