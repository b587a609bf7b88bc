"""How the relay finds its next rows in the outbox, on PostgreSQL, where transactions commit out
of id order: rows in flight are not read again, none is left behind, and the read is an index's
first entries whatever the planner's statistics say.

The broker's part is replaced by a channel that records what is published and a confirm the test
sends itself, so the order of commits and confirms is the test's own; test_bus.py runs the relay
against the real broker."""

import datetime
import types
import uuid

import pika
import pytest
from sqlalchemy import event, insert, text, update
from sqlalchemy.engine import Engine

from ates.bus.outbox import NO_ID_ABOVE
from tests.databases import postgres_database
from tests.probe import Probe, outbox_rows, task_created


class RecordingChannel:
    is_open = True

    def __init__(self):
        self.published: list[str] = []

    def basic_publish(self, exchange, routing_key, body, properties):
        self.published.append(properties.message_id)


@pytest.fixture
def probe():
    with postgres_database("relay_reads") as url:
        probe = Probe(url, {"tracker": "amqp://tracker:unused@127.0.0.1:1/unused"})
        yield probe
        probe.engine.dispose()


def confirm(relay, tag: int, ack: bool = True) -> None:
    method = (pika.spec.Basic.Ack if ack else pika.spec.Basic.Nack)(delivery_tag=tag)
    relay._on_confirm(types.SimpleNamespace(method=method))


def look(relay) -> int:
    """What the relay's tick does with the outbox: record the confirms, publish what is next."""
    relay._record_confirmed()
    return relay._publish_pending()


def test_a_row_committed_after_a_higher_one_is_published_once_the_confirms_pass_it(probe):
    relay = probe.relay()
    relay._channel = channel = RecordingChannel()
    first, late, third = task_created(), task_created(), task_created()
    probe.publish(first)
    with probe.uow.begin() as session:  # the late row takes its id now and commits last
        probe.outbox.add(session, late)
        session.flush()
        probe.publish(third)
        assert look(relay) == 2
    assert channel.published == [first.id, third.id]
    assert look(relay) == 0, "the late row lies between two rows in flight"
    confirm(relay, 1)
    assert look(relay) == 1
    assert channel.published == [first.id, third.id, late.id]
    confirm(relay, 2, ack=False)  # the broker refused the third: it goes again
    assert look(relay) == 1
    assert channel.published[-1] == third.id
    confirm(relay, 3)
    confirm(relay, 4)
    assert look(relay) == 0
    assert probe.unpublished_count() == 0


def test_confirmed_rows_are_marked_together_later_and_never_read_again_meanwhile(probe):
    relay = probe.relay(mark_delay=3600)
    relay._channel = channel = RecordingChannel()
    first, late, third, fourth = (task_created() for _ in range(4))
    probe.publish(first)
    with probe.uow.begin() as session:  # the late row takes its id now and commits last
        probe.outbox.add(session, late)
        session.flush()
        probe.publish(third)
        assert relay._look() == 2
    confirm(relay, 1)
    confirm(relay, 2)
    probe.publish(fourth)
    assert relay._look() == 2, "the late row, between two confirmed ones, and the fourth"
    assert channel.published == [first.id, third.id, late.id, fourth.id]
    assert probe.unpublished_count() == 4, "a tick that published leaves the marks for later"
    confirm(relay, 3)
    confirm(relay, 4)
    assert relay._look() == 0, "confirmed rows waiting for their mark are not read again"
    assert probe.unpublished_count() == 0, "a tick that finds the outbox empty marks them"
    assert len(channel.published) == 4


def test_confirmed_rows_wait_for_their_mark_no_longer_than_the_mark_delay(probe):
    relay = probe.relay(mark_delay=0.0)
    relay._channel = RecordingChannel()
    probe.publish(task_created())
    assert relay._look() == 1
    confirm(relay, 1)
    probe.publish(task_created())
    assert relay._look() == 1
    assert probe.unpublished_count() == 1, "the first marked while the second went out"


def test_enough_confirmed_rows_are_marked_at_once(probe):
    relay = probe.relay(mark_together=2, mark_delay=3600)
    relay._channel = RecordingChannel()
    probe.publish(task_created(), task_created())
    assert relay._look() == 2
    relay._on_confirm(
        types.SimpleNamespace(method=pika.spec.Basic.Ack(delivery_tag=2, multiple=True))
    )
    probe.publish(task_created())
    assert relay._look() == 1
    assert probe.unpublished_count() == 1, "two confirmed, mark_together: marked at once"


def test_rows_in_flight_are_not_read_again(probe):
    relay = probe.relay(batch_size=100, max_in_flight=1000)
    relay._channel = channel = RecordingChannel()
    probe.publish(*(task_created() for _ in range(300)))
    read = []

    def rows_read(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            read.append(cursor.rowcount)

    # every engine: on PostgreSQL the relay reads through the unit of work's autocommit pool
    event.listen(Engine, "after_cursor_execute", rows_read)
    try:
        for _ in range(3):
            relay._publish_pending()
    finally:
        event.remove(Engine, "after_cursor_execute", rows_read)
    assert len(channel.published) == len(set(channel.published)) == 300
    assert sum(read) == 300, f"rows read per query {read}: a row in flight was read again"


def test_the_relays_read_uses_the_partial_index_whatever_the_statistics(probe):
    """With `(published_at, id)` and statistics from an empty table the planner read every
    unpublished row and sorted them (8 ms a look at 10,000); the partial index of the
    unpublished ids gives the first rows in order."""
    now = datetime.datetime.now(datetime.UTC)
    with probe.engine.begin() as connection:
        connection.execute(text("ANALYZE outbox"))  # statistics of an empty table, as at start
        connection.execute(
            insert(outbox_rows),
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "task.created",
                    "routing_key": "task.created.v2",
                    "body": "{}".ljust(560),
                    "created_at": now,
                }
                for _ in range(20_000)
            ],
        )
        connection.execute(
            update(outbox_rows).where(outbox_rows.c.id <= 10_000).values(published_at=now)
        )
    relay = probe.relay()
    with probe.engine.connect() as connection:
        compiled = relay.outbox.query.compile(dialect=connection.dialect)
        for after, before in ((0, 10_500), (11_000, NO_ID_ABOVE)):
            plan = "\n".join(
                connection.exec_driver_sql(
                    f"EXPLAIN {compiled}",
                    {**compiled.params, "after": after, "before": before, "room": 500},
                ).scalars()
            )
            assert "Index Scan using ix_outbox_unpublished" in plan, plan
            assert "Sort" not in plan, plan
