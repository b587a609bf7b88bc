"""Waking a relay the moment its outbox gets a row, on PostgreSQL (and, the same way, any part
that waits for work: the tracker's reassignment runner for a new job).

A relay otherwise finds new rows by polling (every 50 ms), which is most of an event's latency
when the system is not busy: half a poll on average, per hop. On PostgreSQL an outbox insert
fires a statement trigger (`outbox_wakeup_migration`) that sends `NOTIFY ates_outbox`, delivered
when its transaction commits; the relay LISTENs on a connection of its own and hands that
connection's socket to its pika ioloop, so a commit wakes it at once. The poll stays, slower, as
the safety net: a notification is a hint, never the only way a row is found (it is lost if the
listening connection breaks, and SQLite has none at all).

A part in a thread of its own, not in an ioloop, `wait`s on the listening socket instead; a use
case wakes it with `notify_on_commit` in the transaction that made the work.
"""

import logging
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from pika.adapters.select_connection import PollEvents
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
CHANNEL = "ates_outbox"  # per database: every service has its own, so one name serves all
STOP_CHECK_S = 0.1  # how often a thread waiting on its socket looks whether it is to stop
RELISTEN_S = 5.0  # how soon a part whose listening broke or failed (PgBouncer) tries again
TRIGGER_SQL = (
    "CREATE OR REPLACE FUNCTION ates_outbox_wakeup() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$",
    "CREATE TRIGGER outbox_wakeup AFTER INSERT ON outbox "
    "FOR EACH STATEMENT EXECUTE FUNCTION ates_outbox_wakeup()",
)  # once per insert statement, and PostgreSQL folds a transaction's equal notifications into one
DROP_TRIGGER_SQL = (
    "DROP TRIGGER IF EXISTS outbox_wakeup ON outbox",
    "DROP FUNCTION IF EXISTS ates_outbox_wakeup()",
)


def notify_on_commit(session: Session, channel: str) -> None:
    """Wake whoever listens on `channel` when the session's transaction commits (nothing if it
    rolls back); on PostgreSQL only, elsewhere the listeners' poll finds the work."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class Wakeups:
    def __init__(self, engine: Engine, channel: str = CHANNEL, enabled: bool = True):
        """Notifications on `channel`. `enabled` False (ATES_OUTBOX_WAKEUPS=off): poll only, as
        behind a pooler in transaction mode such as PgBouncer's, where LISTEN does not work."""
        self.engine, self.channel, self.enabled = engine, channel, enabled
        self._connection: Any = None  # a connection of its own (psycopg2 under it) while listening
        self.fd: int | None = None  # its socket: a relay's ioloop watches it, a thread waits on it
        self._ioloop: Any = None  # the ioloop watching it, once attached
        self._listen_tried = float("-inf")  # when listen() last tried (monotonic)
        self.broken = False

    @property
    def listening(self) -> bool:
        return self._connection is not None

    @property
    def available(self) -> bool:
        return self.enabled and self.engine.dialect.name == "postgresql"

    def listen(self) -> int | None:
        """Start listening; the socket to watch for readability, or None where there is none."""
        if not self.available:
            return None
        self._listen_tried = time.monotonic()
        self.close()
        try:
            connection: Any = self.engine.raw_connection()
            connection.detach()  # its own for as long as it listens: the pool forgets it
            connection.dbapi_connection.autocommit = True
            cursor = connection.cursor()
            cursor.execute(f"LISTEN {self.channel}")
            cursor.close()
        except Exception:
            log.warning("cannot LISTEN on %s; polling only", self.channel, exc_info=True)
            return None
        self._connection, self.fd = connection, connection.dbapi_connection.fileno()
        return self.fd

    def attach(self, ioloop: Any, on_wakeup: Callable[[], None]) -> bool:
        """Listen and have `ioloop` (pika's) call `on_wakeup()` whenever a notification arrives,
        or once when the listening connection breaks; after a break it stops watching and closes
        the connection itself. False where there is nothing to listen to."""
        fd = self.listen()
        if fd is None:
            return False

        def readable(_fd, _events) -> None:
            if not self.drain():
                return
            if self.broken:  # the listening connection broke: the poll carries on
                self.detach()
            on_wakeup()

        ioloop.add_handler(fd, readable, PollEvents.READ)
        self._ioloop = ioloop
        return True

    def detach(self) -> None:
        """Stop watching the socket, then close it (in this order: the loop must not watch a
        closed socket whose number the next connection may get)."""
        ioloop, self._ioloop = self._ioloop, None
        if ioloop is not None and self.fd is not None:
            try:
                ioloop.remove_handler(self.fd)
            except Exception:  # the loop is closing: it forgets its handlers anyway
                pass
        self.close()

    def drain(self) -> bool:
        """Read what arrived; True if any notification did. A broken connection sets `broken`
        (the caller stops watching its socket, then closes it) and answers True, so the relay
        looks once more at once."""
        if self._connection is None:
            return False
        try:
            self._connection.dbapi_connection.poll()
        except Exception:
            log.warning("wakeup connection (%s) lost; polling only until it is back", self.channel)
            self.broken = True
            return True
        notifies = self._connection.dbapi_connection.notifies
        woke = bool(notifies)
        notifies.clear()
        return woke

    def due(self) -> bool:
        """Whether to try listening again: not listening where one could, and the last try was
        a while ago (a failing LISTEN is not repeated before every look)."""
        return (
            self.available
            and not self.listening
            and time.monotonic() - self._listen_tried > RELISTEN_S
        )

    def wait(self, timeout: float, stopping: threading.Event) -> bool:
        """For a part in a thread of its own: block until a notification arrives (True), `timeout`
        passes or `stopping` is set (False). Not listening (SQLite, switched off, broken): just
        the timeout. A broken connection is closed and answers True, so the caller looks at once."""
        fd = self.fd
        if self._connection is None or fd is None:
            stopping.wait(timeout)
            return False
        deadline = time.monotonic() + timeout
        while not stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([fd], [], [], min(left, STOP_CHECK_S))
            if readable and self.drain():
                if self.broken:
                    self.close()
                return True
        return False

    def close(self) -> None:
        connection, self._connection, self.fd = self._connection, None, None
        self.broken = False
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
