"""The tracker worker process: outbox relay and event consumer."""
from ates.bus.worker import main
from tracker.handlers import handlers
from tracker.models import outbox, inbox

if __name__ == "__main__":
    main("tracker", outbox, inbox, handlers)
