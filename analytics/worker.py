"""The analytics worker process: the event consumer (analytics publishes nothing). Each event it
applies is archived and projected into the read models in one transaction (handlers.py)."""

from analytics.handlers import handlers
from analytics.models import inbox
from ates.bus.worker import main

if __name__ == "__main__":
    main("analytics", None, inbox, handlers)
