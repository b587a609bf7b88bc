"""The accounting worker process: outbox relay and event consumer."""
from ates.bus.worker import main
from accounting.handlers import handlers
from accounting.models import outbox, inbox

if __name__ == "__main__":
    main("accounting", outbox, inbox, handlers)
