"""Writing events: into the caller's own transaction, validated, for the relay to publish; and
the relay's reads and marks of the rows waiting (WaitingRows).

Each event carries the current correlation id (ates/correlation.py) as the CloudEvents extension
attribute `correlationid`, unless it already names one.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ates import clock, correlation
from ates.bus.events import Event
from ates.schemas import SchemaError, SchemaRegistry, registry
from ates.unit_of_work import UnitOfWork


class Outbox:
    def __init__(self, table: Table, schemas: SchemaRegistry | None = None):
        self.table = table
        self.schemas = schemas or registry()
        self._insert = insert(table)  # built once: its cache key is then computed once

    def add(self, session: Session, *events: Event) -> None:
        """Record events in the session's transaction: they are published only if it commits."""
        rows = self.rows(*events)
        if rows:
            session.execute(self._insert, rows)

    def rows(self, *events: Event) -> list[dict]:
        """The outbox rows of events, validated, for a caller that inserts them itself together
        with its own rows (ates.db.insert_together); `add` is the usual way."""
        rows = []
        correlation_id = correlation.current()
        for event in events:
            try:
                message = event.to_message()
            except (TypeError, ValueError) as error:  # a naive time, a float for money
                raise SchemaError(f"{event.type} v{event.version}: {error}") from error
            if correlation_id and "correlationid" not in message:
                message["correlationid"] = (
                    correlation_id  # last: the relay reads it from the body's end
                )
            self.schemas.validate(message)
            rows.append(
                {
                    "event_id": event.id,
                    "event_type": event.type,
                    "routing_key": event.routing_key,
                    "body": _compact_json(message),
                    "created_at": clock.utcnow(),
                }
            )
        return rows


# json.dumps(message, separators=(",", ":")), without making an encoder for every message
_compact_json = json.JSONEncoder(separators=(",", ":")).encode

NO_ID_ABOVE = 2**63 - 1  # the largest BIGINT: past any outbox id, and still compared by index


class WaitingRows:
    """The relay's side of the outbox table: the rows waiting to be published, read in id order
    from the partial index of the unpublished ones (`ix_outbox_unpublished`), and marked published
    once the broker has confirmed them. Each read and each mark is one statement on its own
    (UnitOfWork.read_all, write_alone): on PostgreSQL no BEGIN, COMMIT or ROLLBACK round trips
    around it, on SQLite a look that never takes the write lock."""

    def __init__(self, table: Table, uow: UnitOfWork):
        self.table = table
        self.uow = uow
        self.query = (
            select(
                table.c.id, table.c.event_id, table.c.event_type, table.c.routing_key, table.c.body
            )
            .where(
                table.c.published_at.is_(None),
                table.c.id > bindparam("after"),
                table.c.id < bindparam("before"),
            )
            .order_by(table.c.id)
            .limit(bindparam("room"))
        )
        self.query_skipping = self.query.where(table.c.id.not_in(bindparam("skip", expanding=True)))
        self.mark = (
            update(table)
            .where(table.c.id.in_(bindparam("ids", expanding=True)))
            .values(published_at=bindparam("now"))
        )

    def next(self, room: int, in_flight: list[int], skip: Sequence[int] = ()) -> list[Any]:
        """Up to `room` waiting rows, in id order, none of those `in_flight` (ids sent, not yet
        confirmed) nor those in `skip` (confirmed, not yet marked). They are asked for by range,
        below and above the ids in flight, so a row in flight is not read again; a row inside that
        range that is not in flight (a transaction that committed after a higher id's, a message
        the broker refused) comes once the confirms have moved the range past it. The few ids in
        `skip` are left out one by one, so a late row between them is not held back."""
        if in_flight:
            ranges = [(0, min(in_flight)), (max(in_flight), NO_ID_ABOVE)]
        else:
            ranges = [(0, NO_ID_ABOVE)]
        query, skipping = (self.query_skipping, {"skip": list(skip)}) if skip else (self.query, {})
        rows: list[Any] = []
        for after, before in ranges:
            rows += self.uow.read_all(
                query, {"after": after, "before": before, "room": room - len(rows), **skipping}
            )
            if len(rows) == room:
                break
        return rows

    def mark_published(self, row_ids: list[int]) -> None:
        """Each chunk of ids commits by itself: a crash between two only publishes the rest again."""
        now = clock.utcnow()
        for start in range(0, len(row_ids), 500):
            self.uow.write_alone(self.mark, {"ids": row_ids[start : start + 500], "now": now})

    def backlog(self) -> tuple[int, datetime | None]:
        """How many rows wait, and the oldest one's creation time: both from the partial index."""
        unpublished = self.table.c.published_at.is_(None)
        with self.uow.read() as session:
            count = session.scalar(select(func.count()).select_from(self.table).where(unpublished))
            oldest = session.scalar(
                select(self.table.c.created_at)
                .where(unpublished)
                .order_by(self.table.c.id)
                .limit(1)
            )
        return count or 0, oldest
