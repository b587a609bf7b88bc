"""The auth worker process: the outbox relay (auth consumes no events)."""

from ates.bus.worker import main
from auth.models import outbox

if __name__ == "__main__":
    main("auth", outbox, None, None)
