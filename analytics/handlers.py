"""What analytics does with other services' events: archive each, then project it into the read
models, in the consumer's transaction. The projections (and which events they take) are listed
in projections.py; every one of them is registered here, wrapped by the archive."""
import functools
import os

from ates import revocations
from ates.bus import Handlers
from ates.config import load_settings
from analytics import archive
from analytics.models import revoked_tokens
from analytics.projections import PROJECTIONS

handlers = Handlers("analytics")


def archived(projection):
    def handler(session, event):
        # Archive first: on PostgreSQL this is where a running rebuild makes the worker wait,
        # before it has touched a read model. A NotYet below rolls the archive row back too.
        archive.keep(session, event)
        projection(session, event, day_zone())
    handler.__name__ = handler.__qualname__ = projection.__name__
    return handler


def day_zone():
    """Where an analytics day begins and ends (ATES_TIMEZONE), read as the API reads it. Parsed
    once per zone name, not once per event: this runs on the consumer's per-event path."""
    return _zone_named(os.environ.get("ATES_TIMEZONE", "UTC"))


@functools.cache
def _zone_named(name: str):
    return load_settings("analytics", {"ATES_TIMEZONE": name}).timezone


for (event_type, version), projection in PROJECTIONS.items():
    handlers.on(event_type, version)(archived(projection))


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    """Not archived and no read model: a revocation matters only until its token expires."""
    revocations.remember(session, revoked_tokens, event.data)
