"""The inbox applies each event once, and one failing event does not hold back its batch."""

import logging
import uuid

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError

from ates import clock
from ates.bus import Handlers, Inbox
from ates.bus.inbox import is_conflict
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests import probe
from tests.probe import applications, handlers, inbox_rows, metadata, task_completed, task_created


class ParrotsEscaped(Exception):
    pass


@pytest.fixture
def uow(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    metadata.create_all(engine)
    yield UnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def inbox(uow):
    return Inbox(inbox_rows, uow, handlers)


def applied(uow) -> dict[str, int]:
    with uow.read() as session:
        rows = session.execute(
            select(applications.c.event_id, func.count()).group_by(applications.c.event_id)
        )
        return dict(rows.all())


def recorded(uow) -> set[str]:
    with uow.read() as session:
        return set(session.scalars(select(inbox_rows.c.event_id)))


def test_batch_is_applied_and_each_event_recorded_once(inbox, uow):
    events = [task_created() for _ in range(3)]
    assert [o.action for o in inbox.apply(events)] == ["ack"] * 3
    assert applied(uow) == {event.id: 1 for event in events}
    assert recorded(uow) == {event.id for event in events}


def test_same_event_twice_in_a_batch_and_again_later_is_applied_once(inbox, uow):
    event, other = task_created(), task_created()
    assert [o.action for o in inbox.apply([event, other, event])] == ["ack"] * 3
    assert [o.action for o in inbox.apply([event])] == ["ack"]
    assert applied(uow) == {event.id: 1, other.id: 1}


def test_completion_after_creation_in_the_same_batch_is_applied(inbox, uow):
    created = task_created()
    completed = task_completed(created.data["task_id"])
    assert [o.action for o in inbox.apply([created, completed])] == ["ack", "ack"]
    assert applied(uow) == {created.id: 1, completed.id: 1}


def test_not_yet_event_is_retried_while_the_rest_of_its_batch_is_applied(inbox, uow):
    before, after = task_created(), task_created()
    early = task_completed(str(uuid.uuid4()))
    outcomes = inbox.apply([before, early, after])
    assert [o.action for o in outcomes] == ["ack", "retry", "ack"]
    assert outcomes[1].reason.startswith("not yet:")
    assert applied(uow) == {before.id: 1, after.id: 1}
    assert early.id not in recorded(uow)


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "in-a-batch"])
def test_failing_handler_is_retried_with_its_error_and_does_not_block_the_rest(uow, alone):
    failing = Handlers("probe")
    failing.on("task.created", 2)(probe.on_task_created)

    @failing.on("task.updated", 2)
    def on_task_updated(session, event):
        raise ParrotsEscaped("all of them")

    broken = probe.task_updated(str(uuid.uuid4()))
    batch = [broken] if alone else [task_created(), broken, task_created()]
    outcomes = Inbox(inbox_rows, uow, failing).apply(batch)
    assert outcomes[batch.index(broken)].action == "retry"
    assert outcomes[batch.index(broken)].reason == "ParrotsEscaped: all of them"
    assert applied(uow) == {event.id: 1 for event in batch if event is not broken}


def test_event_another_worker_applied_is_acked_and_its_handler_leaves_nothing(inbox, uow):
    event = task_created()
    with uow.begin() as session:
        session.execute(
            insert(inbox_rows).values(
                event_id=event.id, event_type=event.type, applied_at=clock.utcnow()
            )
        )
    assert inbox.apply([event])[0].action == "ack"
    assert (
        inbox.apply([event, task_completed(str(uuid.uuid4()))])[0].action == "ack"
    )  # the one-by-one path
    assert event.id not in applied(uow)


class Deadlocked(Exception):
    pgcode = "40P01"  # what psycopg2 sets on PostgreSQL's deadlock victim


def deadlock() -> OperationalError:
    return OperationalError("UPDATE balances ...", {}, Deadlocked("deadlock detected"))


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "in-a-batch"])
def test_an_event_that_meets_a_deadlock_is_applied_again_at_once(uow, alone, caplog):
    flaky = Handlers("probe")
    flaky.on("task.created", 2)(probe.on_task_created)
    victims = []

    @flaky.on("task.updated", 2)
    def on_task_updated(session, event):
        if len(victims) < 2:  # the batch's try and the first try alone (or twice alone) lose
            victims.append(event.id)
            raise deadlock()
        probe.on_task_created(session, event)

    updated = probe.task_updated(str(uuid.uuid4()))
    events = [updated] if alone else [task_created(), updated, task_created()]
    outcomes = Inbox(inbox_rows, uow, flaky).apply(events)
    assert [o.action for o in outcomes] == ["ack"] * len(events)
    assert applied(uow) == {event.id: 1 for event in events}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_event_that_keeps_meeting_deadlocks_takes_the_retry_path_with_a_warning(uow, caplog):
    stuck = Handlers("probe")

    @stuck.on("task.updated", 2)
    def on_task_updated(session, event):
        raise deadlock()

    updated = probe.task_updated(str(uuid.uuid4()))
    [outcome] = Inbox(inbox_rows, uow, stuck).apply([updated])
    assert outcome.action == "retry" and outcome.reason.startswith("conflict: deadlock detected")
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["WARNING"]
    assert updated.id not in recorded(uow)


def test_only_lock_conflicts_count_as_conflicts():
    assert is_conflict(deadlock())
    assert is_conflict(OperationalError("INSERT", {}, Exception("database is locked")))
    assert not is_conflict(OperationalError("INSERT", {}, Exception("no such table: tasks")))
    assert not is_conflict(ParrotsEscaped("all of them"))
