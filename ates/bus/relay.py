"""The outbox relay: publishes committed events in order, with publisher confirms.

It keeps up to `max_in_flight` messages unconfirmed at once (waiting for each confirm would cap
it at about one message per disk flush), and marks a row published only once the broker has
confirmed it. Rows left unconfirmed by a crash or a lost connection are published again: a
consumer's inbox absorbs the duplicate.

pika's asynchronous SelectConnection is used because only it lets confirms arrive while
publishing goes on; the consumer, which never waits on confirms in bulk, uses the simpler
blocking connection.
"""
import itertools
import logging
import threading
import time

import pika
from sqlalchemy import Table, select, update
from sqlalchemy.orm import sessionmaker

from ates import clock
from ates.bus import topology
from ates.db import make_sessions

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, producer: str, table: Table, sessions: sessionmaker, amqp_url: str,
                 batch_size: int = 500, max_in_flight: int = 2000, poll_interval: float = 0.05):
        self.producer = producer
        self.exchange = topology.exchange_name(producer)
        self.table = table
        self.sessions = sessions
        # Polling is a read: on SQLite it must not take the write lock twenty times a second.
        self.readers = make_sessions(sessions.kw["bind"], read_only=True)
        self.parameters = pika.URLParameters(amqp_url)
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self._stopping = threading.Event()
        self._connection = None
        self._channel = None
        self._in_flight: dict[int, int] = {}  # delivery tag -> outbox row id
        self._confirmed: list[int] = []
        self._next_tag = 0

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            opened_at = time.monotonic()
            self._run_connection()
            if self._stopping.is_set():
                break
            backoff = 0.5 if time.monotonic() - opened_at > 30 else min(backoff * 2, 10.0)
            log.warning("%s relay lost the broker; reconnecting in %.1fs", self.producer, backoff)
            self._stopping.wait(backoff)

    def stop(self) -> None:
        """Thread-safe: confirms already received are recorded, then the connection closes."""
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close)
            except Exception:  # the loop is already gone
                pass

    # -- one connection's life -------------------------------------------------------------

    def _run_connection(self) -> None:
        self._in_flight.clear()
        self._confirmed.clear()
        self._next_tag = 0
        self._connection = pika.SelectConnection(
            self.parameters,
            on_open_callback=lambda connection: connection.channel(on_open_callback=self._on_channel_open),
            on_open_error_callback=lambda connection, error: connection.ioloop.stop(),
            on_close_callback=lambda connection, reason: connection.ioloop.stop(),
        )
        try:
            self._connection.ioloop.start()
        finally:
            self._record_confirmed()
            self._connection = self._channel = None

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(lambda _channel, reason: self._close())
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True,
                                 callback=lambda _frame: channel.confirm_delivery(
                                     self._on_confirm, callback=lambda _frame: self._tick()))
        log.info("%s relay publishing to %s", self.producer, self.exchange)

    def _close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _tick(self) -> None:
        if self._stopping.is_set() or self._channel is None or not self._channel.is_open:
            return
        try:
            self._record_confirmed()
            published = self._publish_pending()
        except Exception:
            log.exception("%s relay failed to read or update its outbox", self.producer)
            published = 0
        delay = 0 if published == self.batch_size else self.poll_interval
        self._connection.ioloop.call_later(delay, self._tick)

    def _publish_pending(self) -> int:
        room = min(self.batch_size, self.max_in_flight - len(self._in_flight))
        if room <= 0:
            return 0
        in_flight = set(self._in_flight.values())
        with self.readers() as session:
            rows = session.execute(
                select(self.table.c.id, self.table.c.event_id, self.table.c.event_type,
                       self.table.c.routing_key, self.table.c.body)
                .where(self.table.c.published_at.is_(None))
                .order_by(self.table.c.id)
                .limit(room + len(in_flight))
            ).all()
        published = 0
        for row in rows:
            if row.id in in_flight:
                continue
            self._channel.basic_publish(self.exchange, row.routing_key, row.body, pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type="application/cloudevents+json; charset=utf-8",
                message_id=row.event_id,
                type=row.event_type,
                app_id=self.producer,
            ))
            self._next_tag += 1
            self._in_flight[self._next_tag] = row.id
            published += 1
            if published == room:
                break
        return published

    def _on_confirm(self, frame) -> None:
        method = frame.method
        if method.multiple:  # tags were added in increasing order, so they sit at the front
            tags = list(itertools.takewhile(lambda tag: tag <= method.delivery_tag, self._in_flight))
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self._in_flight else []
        row_ids = [self._in_flight.pop(tag) for tag in tags]
        if isinstance(method, pika.spec.Basic.Ack):
            self._confirmed.extend(row_ids)
        else:
            log.warning("%s relay: broker refused %d messages; they stay in the outbox", self.producer, len(row_ids))

    def _record_confirmed(self) -> None:
        if not self._confirmed:
            return
        confirmed, self._confirmed = self._confirmed, []
        now = clock.utcnow()
        with self.sessions.begin() as session:
            for start in range(0, len(confirmed), 500):
                chunk = confirmed[start:start + 500]
                session.execute(update(self.table).where(self.table.c.id.in_(chunk)).values(published_at=now))
