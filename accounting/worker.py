"""The accounting worker process: outbox relay and event consumer.

Payout mail is no longer sent from here: the notifier's end-of-day mail tells each popug its day,
payout included (docs/notifier.md).
"""

from accounting.handlers import handlers
from accounting.models import inbox, outbox
from ates.bus.worker import main

if __name__ == "__main__":
    main("accounting", outbox, inbox, handlers)
