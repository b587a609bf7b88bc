"""How many SQL statements accounting's handlers send for the tracker's everyday events, on SQLite
and PostgreSQL. A statement is a round trip to the database, and round trips are most of what a
handler costs on PostgreSQL: in one process the inbox applied ~310-360 tracker events a second when
a known task's snapshot, reassignment and completion took 2, 7 and 8 of them, ~450-540 at 1, 6 and
6 (the update that assigns or claims the reward reads the price too, RETURNING it)."""

from contextlib import contextmanager

from accounting import domain
from tests.databases import statements_sent
from tests.integration.accounting_fixtures import (
    accounting_db,  # noqa: F401 - a fixture
    new_id,
    task_assigned,
    task_completed,
    task_created_v1,
    task_snapshot,
)


@contextmanager
def statements_of(db):
    """The SQL the handlers send, without the inbox's own two (its look-up and its insert) and
    the transaction's BEGIN (SQLite's BEGIN IMMEDIATE is sent as a statement)."""
    with statements_sent(db.engine) as sent:
        try:
            yield sent
        finally:
            sent[:] = [
                statement
                for statement in sent
                if "inbox" not in statement and not statement.startswith("BEGIN")
            ]


def test_a_known_tasks_events_take_one_statement_for_the_task_row(accounting_db):
    db = accounting_db
    task, other, kesha, chirp = new_id(), new_id(), new_id(), new_id()
    known = [task_created_v1(task, kesha), task_assigned(task, kesha)]
    known += [task_created_v1(other, chirp), task_assigned(other, chirp)]  # chirp has a balance
    assert db.apply(*known) == ["ack"] * 4

    with statements_of(db) as snapshot:
        assert db.apply(task_snapshot(task, kesha, version=2, event_type="task.updated")) == ["ack"]
    assert len(snapshot) == 1 and snapshot[0].startswith("UPDATE tasks")

    with statements_of(db) as reassignment:
        assert db.apply(task_assigned(task, chirp, previous=kesha)) == ["ack"]
    # the task (assigned and priced at once), then the ledger: the open day, the balance locked,
    # updated, the audit row, transaction.applied in the outbox
    assert len(reassignment) == 6, reassignment
    assert "RETURNING" in reassignment[0]

    with statements_of(db) as completion:
        assert db.apply(task_completed(task, chirp)) == ["ack"]
    assert len(completion) == 6, completion
    assert completion[0].startswith("UPDATE tasks") and "RETURNING" in completion[0]

    with statements_of(db) as second_completion:  # another event id for the same completion
        assert db.apply(task_completed(task, chirp)) == ["ack"]
    assert len(second_completion) == 2  # the claim finds it rewarded; the reason is read
    rewards = db.transactions(domain.COMPLETION_REWARD)
    assert [(row["account_id"], row["task_id"]) for row in rewards] == [(chirp, task)]
