"""Applying events exactly once: the handler's changes and the event's id commit together.

A batch of events is applied in one transaction (one commit for many events is what makes the
consumer fast). If anything in it fails, the batch is rolled back and applied event by event,
so that one bad event cannot hold back the others.

Each handler runs with its own event's correlation id as the current one (the event's own id when
it has none), so the events a handler writes carry it on, however mixed the batch.
"""
import logging
import time
from dataclasses import dataclass

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from ates import clock, correlation, metrics
from ates.bus import topology
from ates.bus.events import Event
from ates.bus.handlers import Handlers, NotYet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What to do with a message: ack it, send it round the retry path, or dead-letter it."""

    action: str  # "ack" | "retry" | "dead"
    reason: str = ""


APPLIED = Outcome("ack")


class Inbox:
    def __init__(self, table: Table, sessions: sessionmaker, handlers: Handlers):
        self.table = table
        self.sessions = sessions
        self.handlers = handlers
        self._timers = {}  # producer -> its queue's ates_handler_seconds

    def apply(self, events: list[Event]) -> list[Outcome]:
        try:
            with self.sessions.begin() as session:
                self._apply_all(session, events)
            return [APPLIED] * len(events)
        except Exception as error:
            if len(events) == 1:
                return [self._outcome_of_failure(events[0], error)]
            return [self._apply_one(event) for event in events]

    def _apply_all(self, session: Session, events: list[Event]) -> None:
        ids = {event.id for event in events}
        done = set(session.scalars(select(self.table.c.event_id).where(self.table.c.event_id.in_(ids))))
        applied = []
        for event in events:
            if event.id in done:
                continue  # a redelivery, or the same event twice in one batch
            handler = self.handlers.lookup(event.type, event.version)
            token = correlation.set_current(event.correlation_id or event.id)
            started = time.perf_counter()
            try:
                handler(session, event)
            finally:
                self._timer(event.producer).observe(time.perf_counter() - started)
                correlation.reset(token)
            applied.append({"event_id": event.id, "event_type": event.type, "applied_at": clock.utcnow()})
            done.add(event.id)
        if applied:
            session.execute(insert(self.table), applied)

    def _apply_one(self, event: Event) -> Outcome:
        try:
            with self.sessions.begin() as session:
                self._apply_all(session, [event])
            return APPLIED
        except Exception as error:
            return self._outcome_of_failure(event, error)

    def _outcome_of_failure(self, event: Event, error: Exception) -> Outcome:
        if self._already_applied(event):
            return APPLIED  # another worker on the same queue applied it first
        if isinstance(error, NotYet):
            return Outcome("retry", f"not yet: {error}")
        log.error("%s v%s %s failed", event.type, event.version, event.id, exc_info=error,
                  extra={"correlation_id": event.correlation_id or event.id})
        return Outcome("retry", f"{type(error).__name__}: {error}")

    def _timer(self, producer: str):
        timer = self._timers.get(producer)
        if timer is None:
            queue = topology.queue_name(self.handlers.consumer, producer)
            timer = self._timers[producer] = metrics.HANDLER_SECONDS.labels(queue)
        return timer

    def _already_applied(self, event: Event) -> bool:
        with self.sessions() as session:
            found = session.scalar(select(self.table.c.event_id).where(self.table.c.event_id == event.id))
        return found is not None
