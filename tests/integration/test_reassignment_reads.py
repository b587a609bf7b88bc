"""How a reassignment batch finds its tasks on PostgreSQL: the job's undone items come from their
partial index in order, also for a job whose items were all written a moment ago (the job's start
brings the table's statistics up to date), so a batch costs the same at the end of a big job as at
its start; and its tasks are locked before their status is read."""

import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.apps import open_tasks
from tests.databases import tracker_unit_of_work
from tracker import reassigning, service
from tracker.models import outbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def uow(tmp_path):
    with tracker_unit_of_work("postgresql", tmp_path, "reassignment_reads") as uow:
        yield uow


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


def test_a_task_completed_while_its_batch_runs_keeps_its_assignee_and_gets_no_assignment(uow):
    """The batch locks its tasks before it reads their status: a completion not yet committed
    makes it wait, and it then finds the task completed. (It used to read the task as open, wait
    at its UPDATE, and then give the completed task a new assignee and a task.assigned event.)"""
    _, task_ids = open_tasks(uow, 10)
    target = min(task_ids)  # the first item of the job's first batch
    with uow.read() as session:
        assignee = service.get_task(session, target)["assignee_id"]
    with uow.begin() as session:
        job = reassigning.start_reassignment(session, str(uuid.uuid4()))
    taken = []

    def one_batch():
        with uow.begin() as session:
            taken.append(reassigning.reassign_batch(session, job["reassignment_id"]))

    batch = threading.Thread(target=one_batch)
    with uow.begin() as session:
        completed = service.complete_task(session, assignee, target)
        batch.start()
        time.sleep(0.5)
        assert batch.is_alive(), "the batch waits for the completion to commit"
    batch.join(timeout=10)
    assert taken == [10]
    with uow.read() as session:
        stored = service.get_task(session, target)
        assigned = session.scalars(
            select(outbox.c.body).where(
                outbox.c.event_type == "task.assigned", outbox.c.body.contains(target)
            )
        ).all()
    assert (stored["status"], stored["assignee_id"]) == ("done", assignee)
    assert stored["version"] == completed["version"]
    assert assigned == []
