"""The archive of every event analytics applied: written with the event's effects, read back in
the order they were applied when the read models are rebuilt."""

import json
from collections.abc import Iterator

from sqlalchemy import insert, select, text

from analytics.models import event_archive
from ates import clock
from ates.bus import Event

KEEP = insert(event_archive)


def keep(session, event: Event) -> None:
    """Archive an event in the transaction that applies it; a second copy fails on its unique id."""
    session.execute(
        KEEP,
        {
            "event_id": event.id,
            "event_type": event.type,
            "event_version": event.version,
            "message": json.dumps(event.to_message(), ensure_ascii=False),
            "archived_at": clock.utcnow(),
        },
    )


def replay(session, page_size: int = 2000) -> Iterator[Event]:
    """Every archived event, in the order it was applied, a page at a time."""
    after = 0
    while True:
        page = session.execute(
            select(event_archive.c.sequence, event_archive.c.message)
            .where(event_archive.c.sequence > after)
            .order_by(event_archive.c.sequence)
            .limit(page_size)
        ).all()
        for _sequence, message in page:
            yield Event.from_message(json.loads(message))
        if len(page) < page_size:
            return
        after = page[-1][0]


def hold_off_archiving(session) -> None:
    """Make the worker wait until this transaction ends (the worker archives an event first).

    SQLite needs nothing: a write transaction already holds the database's only write lock.
    On PostgreSQL an EXCLUSIVE lock lets others read the archive but not add to it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE event_archive IN EXCLUSIVE MODE"))
