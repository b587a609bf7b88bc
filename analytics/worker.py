"""The analytics worker process: event consumer."""
from ates.bus.worker import main
from analytics.handlers import handlers
from analytics.models import inbox

if __name__ == "__main__":
    main("analytics", None, inbox, handlers)
