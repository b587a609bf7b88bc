"""The inbox (ates/bus/inbox.py) on SQLite and PostgreSQL: each event of a batch applied once,
duplicates and redeliveries skipped, a failing batch leaving nothing behind, and on PostgreSQL a
second worker with the same event waiting for the first; and the unit of work's single read and
write statements (what the relay sends) outside a transaction on PostgreSQL
(ates/unit_of_work.py)."""

import contextlib
import threading
import time

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Engine

from ates.bus import Inbox
from ates.bus.inbox import APPLIED
from tests.databases import postgres_database
from tests.probe import Probe, applications, handlers, inbox_rows, task_created


@pytest.fixture(params=["sqlite", "postgresql"])
def probe(request, tmp_path):
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'inbox.db'}"
        else:
            url = stack.enter_context(postgres_database("inbox_claims"))
        probe = Probe(url, {})
        yield probe
        probe.uow.dispose()


@pytest.fixture
def postgres_probe():
    with postgres_database("inbox_claims") as url:
        probe = Probe(url, {})
        yield probe
        probe.uow.dispose()


class Sent(list):
    """The statements sent, each with whether its connection was in autocommit."""

    autocommit: list[bool]


@contextlib.contextmanager
def statements():
    """Every statement any engine sends inside the block."""
    sent = Sent()
    sent.autocommit = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)
        sent.autocommit.append(getattr(conn.connection.dbapi_connection, "autocommit", None))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def applied(probe) -> dict[str, int]:
    return probe.applications_per_event()


def test_a_batch_of_new_events_costs_the_inbox_one_statement_and_each_is_applied_once(probe):
    inbox = Inbox(inbox_rows, probe.uow, handlers)
    new, twice = task_created(), task_created()
    with statements() as sent:
        outcomes = inbox.apply([new, twice, twice])
    assert outcomes == [APPLIED] * 3
    assert applied(probe) == {new.id: 1, twice.id: 1}
    own = [statement for statement in sent if "inbox" in statement]
    assert len(own) == 1 and own[0].startswith("INSERT"), own


def test_a_batch_with_an_event_applied_before_is_applied_one_by_one_each_once(probe):
    """The redelivered event fails the batch on the inbox's key, which takes its handler's work
    back; event by event, it is found in the inbox and acked, and the others are applied."""
    inbox = Inbox(inbox_rows, probe.uow, handlers)
    seen, new, twice = task_created(), task_created(), task_created()
    assert inbox.apply([seen]) == [APPLIED]
    assert inbox.apply([seen, new, twice, twice]) == [APPLIED] * 4
    assert applied(probe) == {seen.id: 1, new.id: 1, twice.id: 1}
    with probe.uow.read() as session:
        recorded = set(session.scalars(select(inbox_rows.c.event_id)))
    assert recorded == {seen.id, new.id, twice.id}
    assert inbox.apply([seen]) == [APPLIED], "alone, as a batch of one"
    assert applied(probe)[seen.id] == 1


def test_a_failing_batch_leaves_no_inbox_row_behind(probe):
    """The inbox rows are in the batch's transaction: a handler that fails takes them back with
    it, and the events are applied one by one (the bad one alone takes the retry path)."""
    inbox = Inbox(inbox_rows, probe.uow, handlers)
    good = task_created()
    bad = task_created()
    bad.data["task_id"] = None  # the applications row needs one: the insert fails

    assert [outcome.action for outcome in inbox.apply([good, bad])] == ["ack", "retry"]
    assert applied(probe) == {good.id: 1}
    with probe.uow.read() as session:
        assert set(session.scalars(select(inbox_rows.c.event_id))) == {good.id}


@pytest.mark.parametrize("first_worker_commits", [True, False])
def test_an_event_not_yet_committed_by_one_worker_is_applied_once_by_two(
    postgres_probe, first_worker_commits
):
    """Two workers with the same event (a redelivery while the first still works on it): the
    second's inbox row waits on the first's uncommitted one; the event is applied once whether
    the first commits (the second then fails on the key, finds it applied and acks) or not."""
    probe = postgres_probe
    inbox = Inbox(inbox_rows, probe.uow, handlers)
    twice = task_created()
    claimed, finish = threading.Event(), threading.Event()
    second: list = []

    def first_worker():
        with contextlib.suppress(RuntimeError), probe.uow.begin() as session:
            inbox._apply_all(session, [twice], look_up=False)
            claimed.set()
            finish.wait(10)
            if not first_worker_commits:
                raise RuntimeError("the first worker is killed before it commits")

    first = threading.Thread(target=first_worker)
    first.start()
    assert claimed.wait(10)
    waiting = threading.Thread(target=lambda: second.append(inbox.apply([twice])))
    waiting.start()
    time.sleep(0.5)
    assert waiting.is_alive(), "the second worker did not wait for the first transaction"
    finish.set()
    first.join(10)
    waiting.join(10)
    assert second == [[APPLIED]]
    assert applied(probe) == {twice.id: 1}


def test_on_postgresql_one_read_statement_needs_no_transaction_and_a_read_block_writes_nothing(
    postgres_probe,
):
    probe = postgres_probe
    probe.uow.write_alone(
        insert(applications), {"event_id": "e", "event_type": "t", "task_id": "t"}
    )
    with statements() as sent:
        rows = probe.uow.read_all(select(applications.c.event_id))
    assert rows == [("e",)] and sent.autocommit == [True]  # no BEGIN, no ROLLBACK around it
    with probe.uow.read() as session:  # a read block keeps its transaction, rolled back
        session.execute(insert(applications).values(event_id="f", event_type="t", task_id="t"))
    assert probe.applied_count() == 1


def test_on_postgresql_a_lone_write_commits_by_itself(postgres_probe):
    probe = postgres_probe
    row = {"event_id": "e", "event_type": "t", "task_id": "t"}
    with statements() as sent:
        probe.uow.write_alone(insert(applications), row)
    assert len(sent) == 1 and sent.autocommit == [True]  # no BEGIN, no COMMIT around it
    with probe.engine.connect() as other:  # another connection sees it: committed
        assert other.scalar(select(func.count()).select_from(applications)) == 1
    with probe.uow.one_transaction():  # inside one, it joins the block instead
        probe.uow.write_alone(insert(applications), {**row, "event_id": "f"})
        with probe.engine.connect() as other:
            assert other.scalar(select(func.count()).select_from(applications)) == 1
    assert probe.applied_count() == 2
