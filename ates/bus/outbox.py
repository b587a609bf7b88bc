"""Writing events: into the caller's own transaction, validated, for the relay to publish.

Each event carries the current correlation id (ates/correlation.py) as the CloudEvents extension
attribute `correlationid`, unless it already names one.
"""

import json

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ates import clock, correlation
from ates.bus.events import Event
from ates.schemas import SchemaError, SchemaRegistry, registry


class Outbox:
    def __init__(self, table: Table, schemas: SchemaRegistry | None = None):
        self.table = table
        self.schemas = schemas or registry()

    def add(self, session: Session, *events: Event) -> None:
        """Record events in the session's transaction: they are published only if it commits."""
        rows = self.rows(*events)
        if rows:
            session.execute(insert(self.table), rows)

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
                    "body": json.dumps(message, separators=(",", ":")),
                    "created_at": clock.utcnow(),
                }
            )
        return rows
