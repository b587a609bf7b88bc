"""On PostgreSQL a commit wakes the relay (ates/bus/wakeup.py): an event goes out long before the
relay's next poll, and when the listening connection is cut the poll still finds everything."""

import time

import psycopg2
import pytest

from ates.bus import wakeup
from tests.conftest import eventually
from tests.databases import POSTGRES_ADMIN_URL, postgres_database
from tests.integration.conftest import probe_urls
from tests.integration.test_bus import settle, wait_for_queue
from tests.probe import Probe, task_created

LONG = 120.0  # seconds between polls: a test that waited for one would time out first


@pytest.fixture
def pg_probe(broker):
    with postgres_database("wakeup") as url:
        probe = Probe(url, probe_urls(broker))
        with probe.engine.begin() as connection:
            for statement in wakeup.TRIGGER_SQL:
                connection.exec_driver_sql(statement)
        yield probe
        probe.engine.dispose()


def listening_pid(database_url: str) -> int:
    name = database_url.rsplit("/", 1)[1]
    with psycopg2.connect(POSTGRES_ADMIN_URL) as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN%%'", (name,)
        )
        rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return rows[0][0]


def test_a_commit_wakes_the_relay_long_before_its_poll(pg_probe, start, broker):
    start(pg_probe.consumer())
    wait_for_queue(broker)
    relay = start(pg_probe.relay(poll_interval=LONG, woken_poll_interval=LONG))
    eventually(
        lambda: relay.wakeups.listening and relay._last_tick > 0, message="the relay to listen"
    )
    time.sleep(0.3)  # past its first look at the outbox: the next poll is LONG away
    events = [task_created() for _ in range(3)]
    for event in events:
        pg_probe.publish(event)
    settle(pg_probe, 3, timeout=20)
    assert pg_probe.applications_per_event() == {event.id: 1 for event in events}


def test_a_cut_listening_connection_leaves_the_poll_to_find_every_row(pg_probe, start, broker):
    start(pg_probe.consumer())
    wait_for_queue(broker)
    relay = start(pg_probe.relay(poll_interval=0.2, woken_poll_interval=LONG))
    eventually(lambda: relay.wakeups.listening, message="the relay to listen")
    url = pg_probe.engine.url.render_as_string(hide_password=False)
    with psycopg2.connect(POSTGRES_ADMIN_URL) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", (listening_pid(url),))
    eventually(lambda: not relay.wakeups.listening, message="the relay to notice the cut")
    event = task_created()
    pg_probe.publish(event)
    settle(pg_probe, 1, timeout=20)
    assert pg_probe.applications_per_event() == {event.id: 1}
    eventually(lambda: relay.wakeups.listening, timeout=20, message="the relay to listen again")


def test_with_wakeups_off_the_relay_polls_only(pg_probe, start, broker):
    start(pg_probe.consumer())
    wait_for_queue(broker)
    relay = start(pg_probe.relay(poll_interval=0.1, wakeups=False))
    event = task_created()
    pg_probe.publish(event)
    settle(pg_probe, 1, timeout=20)
    assert pg_probe.applications_per_event() == {event.id: 1} and not relay.wakeups.listening
