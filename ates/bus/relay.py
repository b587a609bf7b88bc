"""The outbox relay: publishes committed events in order, with publisher confirms.

It keeps up to `max_in_flight` messages unconfirmed at once (waiting for each confirm would cap
it at about one message per disk flush), and marks a row published only once the broker has
confirmed it. Rows left unconfirmed by a crash or a lost connection are published again: a
consumer's inbox absorbs the duplicate.

Marks wait a little (`mark_delay`, or until `mark_together` rows are confirmed, or the outbox
is found empty), so that a steady trickle of events costs one UPDATE and one commit for many
rows instead of one per look at the outbox; the relay remembers the confirmed rows and leaves
them out of its reads meanwhile. A crash in that window publishes them again, as above.

pika's asynchronous SelectConnection is used because only it lets confirms arrive while
publishing goes on; the consumer, which never waits on confirms in bulk, uses the simpler
blocking connection.

One relay per producer publishes at a time, however many worker replicas run: each relay
declares the exclusive queue `<producer>.relay-lease` on its publishing connection, and only the
one whose declaration succeeds publishes. The broker deletes an exclusive queue when its
connection ends, so when the publishing relay dies a standby's next attempt takes over.

Each message carries the relay's broker user as `user_id`, which the broker refuses unless it is
the connection's own user: that is what a consumer believes about who published (ates/bus/users.py).
Each message carries its event's correlation id as the AMQP `correlation_id` property too, and the
relay keeps the metrics of what it published and of the outbox's backlog (ates/metrics.py).
"""

import contextlib
import itertools
import logging
import threading
import time
from typing import Any

import pika
from sqlalchemy import Table

from ates import clock, metrics
from ates.bus import topology
from ates.bus.nodes import BrokerNodes
from ates.bus.outbox import WaitingRows
from ates.bus.publishing import PublishingConnection, message_properties
from ates.bus.wakeup import CHANNEL, Wakeups
from ates.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        producer: str,
        table: Table,
        uow: UnitOfWork,
        amqp_url: str,
        batch_size: int = 500,
        max_in_flight: int = 2000,
        poll_interval: float = 0.05,
        lease_retry: float = 2.0,
        backlog_interval: float = 1.0,
        woken_poll_interval: float = 0.5,
        min_tick_gap: float = 0.005,
        mark_delay: float = 0.25,
        mark_together: int = 100,
        wakeups: bool = True,
    ):
        self.producer = producer
        self.exchange = topology.exchange_name(producer)
        self.outbox = WaitingRows(table, uow)
        self.nodes = BrokerNodes(amqp_url)  # one or several nodes of a cluster (ates/bus/nodes.py)
        # each publish names the user; the broker checks it
        self.user = self.nodes.first.credentials.username
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        # with wakeups (PostgreSQL) a commit wakes the relay; the poll is then only a safety net
        self.woken_poll_interval = woken_poll_interval
        self.min_tick_gap = min_tick_gap  # wakeups closer than this share one look at the outbox
        self.mark_delay = mark_delay  # how long confirmed rows may wait to be marked together
        self.mark_together = mark_together  # this many are marked at once, without waiting
        self.wakeups = Wakeups(uow.engine, CHANNEL, enabled=wakeups)
        self._timer: Any = None  # the pending call of _tick
        self._last_tick = 0.0
        self.lease_queue = topology.relay_lease_name(producer)
        self.lease_retry = lease_retry
        self.holds_lease = False
        self._stopping = threading.Event()
        self._connection: Any = None  # a pika.SelectConnection while one is open
        self._channel: Any = None
        self._in_flight: dict[
            int, tuple[int, str]
        ] = {}  # delivery tag -> outbox row id, routing key
        self._confirmed: list[int] = []  # outbox row ids, to be marked published
        self._confirmed_since = 0.0  # when the first of them was confirmed (monotonic)
        self._next_tag = 0
        self.backlog_interval = (
            backlog_interval  # counting the backlog is a query: not on every poll
        )
        self._backlog_measured_at = 0.0
        self._published = metrics.EVENTS_PUBLISHED
        self._published_by_key: dict[str, Any] = {}
        self._backlog = metrics.OUTBOX_BACKLOG.labels(producer)
        self._oldest_age = metrics.OUTBOX_OLDEST_AGE.labels(producer)

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            opened_at = time.monotonic()
            self._run_connection()
            if self._stopping.is_set():
                break
            self.nodes.lost()  # the next connection begins with the next node
            backoff = 0.5 if time.monotonic() - opened_at > 30 else min(backoff * 2, 10.0)
            log.warning(
                "%s relay lost the broker; reconnecting in %.1fs to %s:%s",
                self.producer,
                backoff,
                self.nodes.current().host,
                self.nodes.current().port,
            )
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
        self.holds_lease = False
        self._connection = PublishingConnection(
            self.nodes.current(),
            on_open_callback=lambda connection: connection.channel(
                on_open_callback=self._on_channel_open
            ),
            on_open_error_callback=lambda connection, error: connection.ioloop.stop(),
            on_close_callback=lambda connection, reason: connection.ioloop.stop(),
        )
        try:
            self._connection.ioloop.start()
        finally:
            self._record_confirmed()
            self.wakeups.detach()
            self._timer = None
            self._connection = self._channel = None

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.exchange_declare(
            self.exchange,
            exchange_type="topic",
            durable=True,
            callback=lambda _frame: self._take_lease(channel),
        )

    def _take_lease(self, channel) -> None:
        channel.queue_declare(
            self.lease_queue,
            exclusive=True,
            auto_delete=True,
            arguments={"x-queue-type": "classic"},
            callback=lambda _frame: self._on_lease_taken(channel),
        )

    def _on_lease_taken(self, channel) -> None:
        self.holds_lease = True
        log.info("%s relay holds the lease; publishing to %s", self.producer, self.exchange)
        self._listen()
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._schedule(0))

    def _listen(self) -> None:
        """Watch the outbox's wakeups in this connection's ioloop, where there are any."""
        if self.wakeups.listening or self._connection is None or not self.wakeups.available:
            return
        self.wakeups.attach(self._connection.ioloop, self._on_wakeup)

    def _on_wakeup(self) -> None:
        self._schedule(max(0.0, self._last_tick + self.min_tick_gap - time.monotonic()))

    def _schedule(self, delay: float) -> None:
        """One pending _tick at a time: a wakeup brings the next look forward, never adds one."""
        if self._connection is None:
            return
        if self._timer is not None:
            self._connection.ioloop.remove_timeout(self._timer)
        self._timer = self._connection.ioloop.call_later(delay, self._tick)

    def _on_channel_closed(self, _channel, reason) -> None:
        self._channel = None
        lease_held_elsewhere = (
            isinstance(reason, pika.exceptions.ChannelClosedByBroker)
            and reason.reply_code == 405
            and not self.holds_lease
        )
        if lease_held_elsewhere and not self._stopping.is_set() and self._connection is not None:
            log.info("%s relay on standby: another relay holds %s", self.producer, self.lease_queue)
            connection = self._connection
            connection.ioloop.call_later(self.lease_retry, lambda: self._reopen_channel(connection))
        else:
            self._close()

    def _reopen_channel(self, connection) -> None:
        if not self._stopping.is_set() and connection.is_open:
            connection.channel(on_open_callback=self._on_channel_open)

    def _close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _tick(self) -> None:
        self._timer = None
        self._last_tick = time.monotonic()
        if self._stopping.is_set() or self._channel is None or not self._channel.is_open:
            return
        try:
            published = self._look()
            if time.monotonic() - self._backlog_measured_at >= self.backlog_interval:
                self._measure_backlog()
            if self.wakeups.due():
                self._listen()  # the listening connection broke (PostgreSQL restarted, say)
        except Exception:
            log.exception("%s relay failed to read or update its outbox", self.producer)
            published = 0
        idle = self.woken_poll_interval if self.wakeups.listening else self.poll_interval
        self._schedule(0 if published == self.batch_size else idle)

    def _look(self) -> int:
        """Mark the confirmed rows if due, publish the rows next in order; when there were none
        (the outbox is empty, or the window full), mark the rest now."""
        self._record_confirmed(only_when_due=True)
        published = self._publish_pending()
        if published == 0:
            self._record_confirmed()
        return published

    def _publish_pending(self) -> int:
        """Publish the waiting rows next in order, those in flight aside (WaitingRows.next)."""
        room = min(self.batch_size, self.max_in_flight - len(self._in_flight))
        if room <= 0:
            return 0
        rows = self.outbox.next(
            room, [row_id for row_id, _ in self._in_flight.values()], skip=self._confirmed
        )
        connection = self._connection
        together = (
            connection.together()
            if isinstance(connection, PublishingConnection)
            else contextlib.nullcontext()  # the tests' recording channel
        )
        with together:
            for row in rows:
                self._channel.basic_publish(
                    self.exchange,
                    row.routing_key,
                    row.body,
                    message_properties(row, self.producer, self.user),
                )
                self._next_tag += 1
                self._in_flight[self._next_tag] = (row.id, row.routing_key)
        return len(rows)

    def _on_confirm(self, frame) -> None:
        """Called for each confirm, so kept short: the rows wait in `_confirmed` for the next tick,
        which marks them published."""
        method = frame.method
        if method.multiple:  # tags were added in increasing order, so they sit at the front
            tags = list(
                itertools.takewhile(lambda tag: tag <= method.delivery_tag, self._in_flight)
            )
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self._in_flight else []
        rows = [self._in_flight.pop(tag) for tag in tags]
        if isinstance(method, pika.spec.Basic.Ack):
            if rows and not self._confirmed:
                self._confirmed_since = time.monotonic()
            self._confirmed += [row_id for row_id, _ in rows]
            for _, routing_key in rows:
                self._published_counter(routing_key).inc()
        else:
            log.warning(
                "%s relay: broker refused %d messages; they stay in the outbox",
                self.producer,
                len(rows),
            )

    def _published_counter(self, routing_key: str):
        """ates_events_published_total's child for a routing key, looked up once per key."""
        counter = self._published_by_key.get(routing_key)
        if counter is None:
            counter = self._published_by_key[routing_key] = self._published.labels(
                self.exchange, routing_key
            )
        return counter

    def _record_confirmed(self, only_when_due: bool = False) -> None:
        """Mark the confirmed rows published; `only_when_due`: only once `mark_together` of them
        wait, or the first has waited `mark_delay` (a busy relay so marks as it goes, as before,
        and its reads skip few rows; a trickle's rows are marked together)."""
        if not self._confirmed:
            return
        due = (
            len(self._confirmed) >= self.mark_together
            or time.monotonic() - self._confirmed_since >= self.mark_delay
        )
        if only_when_due and not due:
            return
        confirmed, self._confirmed = self._confirmed, []
        self.outbox.mark_published(confirmed)

    def _measure_backlog(self) -> None:
        """ates_outbox_backlog and ates_outbox_oldest_age_seconds, at most once a second."""
        self._backlog_measured_at = time.monotonic()
        count, oldest = self.outbox.backlog()
        self._backlog.set(max(0, count - len(self._confirmed)))  # those are published already
        self._oldest_age.set((clock.utcnow() - oldest).total_seconds() if oldest is not None else 0)
