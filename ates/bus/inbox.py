"""Applying events exactly once: the handler's changes and the event's id commit together.

A batch of events is applied in one transaction (one commit for many events is what makes the
consumer fast). If anything in it fails, the batch is rolled back and applied event by event,
so that one bad event cannot hold back the others.

Workers on one queue (or a worker and the scheduler) may lock the same rows in another order:
PostgreSQL then ends one transaction as a deadlock victim, and SQLite answers "database is locked"
once its busy timeout runs out. That is a conflict, not a failure: the event is applied again at
once, a few times, before it takes the retry path.

Each handler runs with its own event's correlation id as the current one (the event's own id when
it has none), so the events a handler writes carry it on, however mixed the batch.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ates import clock, correlation, metrics
from ates.bus import topology
from ates.bus.events import Event
from ates.bus.handlers import Handlers, NotYet
from ates.db import insert_if_absent
from ates.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What to do with a message: ack it, send it round the retry path, or dead-letter it."""

    action: str  # "ack" | "retry" | "dead"
    reason: str = ""


APPLIED = Outcome("ack")
CONFLICT_ATTEMPTS = (
    3  # applications of one event that met another transaction's locks, before the retry path
)
CONFLICT_SQLSTATES = frozenset(
    {"40P01", "40001"}
)  # PostgreSQL: deadlock_detected, serialization_failure


def is_conflict(error: Exception) -> bool:
    """Did the transaction fail only because a concurrent one held what it needed?"""
    if not isinstance(error, OperationalError):
        return False
    cause = error.orig
    return getattr(cause, "pgcode", None) in CONFLICT_SQLSTATES or "database is locked" in str(
        cause
    )


class Inbox:
    def __init__(
        self,
        table: Table,
        uow: UnitOfWork,
        handlers: Handlers,
        dependencies: Mapping[str, object] | None = None,
    ):
        """`dependencies`: what the handlers name besides (session, event), e.g. `settings`."""
        self.table = table
        self.uow = uow
        self.handlers = handlers
        self._bound = handlers.bind(dependencies or {})
        self._timers: dict[str, Any] = {}  # producer -> its queue's ates_handler_seconds
        self._claims: dict[str, Any] = {}  # dialect name -> the claim statement

    def apply(self, events: list[Event]) -> list[Outcome]:
        try:
            with self.uow.begin() as session:
                self._apply_all(session, events)
            return [APPLIED] * len(events)
        except Exception as error:
            if len(events) == 1 and not is_conflict(error):
                return [self._outcome_of_failure(events[0], error)]
            return [self._apply_one(event) for event in events]

    def _apply_all(self, session: Session, events: list[Event]) -> None:
        unseen = self._claim(session, events)
        for event in events:
            if event.id not in unseen:
                continue  # a redelivery, or the same event twice in one batch
            unseen.discard(event.id)
            handler = self._bound[(event.type, event.version)]
            token = correlation.set_current(event.correlation_id or event.id)
            started = time.perf_counter()
            try:
                handler(session, event)
            finally:
                self._timer(event.producer).observe(time.perf_counter() - started)
                correlation.reset(token)

    def _claim(self, session: Session, events: list[Event]) -> set[str]:
        """The ids of the events not applied before, their inbox rows written first, in one
        statement (INSERT ... ON CONFLICT DO NOTHING RETURNING): a row already there is a
        redelivery; one another worker has written but not yet committed makes this statement
        wait, and then counts as there (or not, if that worker rolled back)."""
        now = clock.utcnow()
        rows = {
            event.id: {"event_id": event.id, "event_type": event.type, "applied_at": now}
            for event in reversed(events)  # the first of two copies in a batch is the one kept
        }
        return set(session.scalars(self._claim_statement(session), list(rows.values())))

    def _claim_statement(self, session: Session):
        dialect = session.get_bind().dialect.name
        statement = self._claims.get(dialect)
        if statement is None:  # built once per dialect: its cache key is then computed once
            statement = insert_if_absent(session, self.table, "event_id").returning(
                self.table.c.event_id
            )
            self._claims[dialect] = statement
        return statement

    def _apply_one(self, event: Event) -> Outcome:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                with self.uow.begin() as session:
                    self._apply_all(session, [event])
                return APPLIED
            except Exception as error:
                if not is_conflict(error) or attempt == CONFLICT_ATTEMPTS:
                    return self._outcome_of_failure(event, error)
                log.info(
                    "%s %s met a concurrent transaction's locks; applying it again",
                    event.type,
                    event.id,
                    extra={"correlation_id": event.correlation_id or event.id},
                )
        raise AssertionError("unreachable")

    def _outcome_of_failure(self, event: Event, error: Exception) -> Outcome:
        if self._already_applied(event):
            return APPLIED  # another worker on the same queue applied it first
        if isinstance(error, NotYet):
            return Outcome("retry", f"not yet: {error}")
        if is_conflict(error):
            log.warning(
                "%s %s kept meeting concurrent transactions' locks; it takes the retry path",
                event.type,
                event.id,
                extra={"correlation_id": event.correlation_id or event.id},
            )
            return Outcome("retry", f"conflict: {getattr(error, 'orig', error)}")
        log.error(
            "%s v%s %s failed",
            event.type,
            event.version,
            event.id,
            exc_info=error,
            extra={"correlation_id": event.correlation_id or event.id},
        )
        return Outcome("retry", f"{type(error).__name__}: {error}")

    def _timer(self, producer: str):
        timer = self._timers.get(producer)
        if timer is None:
            queue = topology.queue_name(self.handlers.consumer, producer)
            timer = self._timers[producer] = metrics.HANDLER_SECONDS.labels(queue)
        return timer

    def _already_applied(self, event: Event) -> bool:
        with self.uow.read() as session:
            found = session.scalar(
                select(self.table.c.event_id).where(self.table.c.event_id == event.id)
            )
        return found is not None
