"""What analytics does with other services' events: archive each, then project it into the read
models, in the consumer's transaction. The projections (and which events they take) are listed
in projections.py; every one of them is registered here, wrapped by the archive."""

from analytics import archive
from analytics.models import revoked_tokens
from analytics.projections import PROJECTIONS
from ates import revocations
from ates.bus import Handlers
from ates.config import Settings

handlers = Handlers("analytics")


def archived(projection):
    def handler(session, event, settings: Settings):
        # Archive first: on PostgreSQL this is where a running rebuild makes the worker wait,
        # before it has touched a read model. A NotYet below rolls the archive row back too.
        archive.keep(session, event)
        projection(session, event, settings.timezone)  # where an analytics day begins and ends

    handler.__name__ = handler.__qualname__ = projection.__name__
    return handler


for (event_type, version), projection in PROJECTIONS.items():
    handlers.on(event_type, version)(archived(projection))


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    """Not archived and no read model: a revocation matters only until its token expires."""
    revocations.remember(session, revoked_tokens, event.data)
