"""The accounting worker process: outbox relay, event consumer, the cleaner of old idempotency keys.

Payout mail is no longer sent from here: the notifier's end-of-day mail tells each popug its day,
payout included (docs/notifier.md).
"""

from accounting.handlers import handlers
from accounting.models import idempotency_keys, inbox, outbox
from ates.bus.worker import main
from ates.idempotency import Cleaner

if __name__ == "__main__":
    main(
        "accounting", outbox, inbox, handlers, jobs=lambda uow, _: [Cleaner(uow, idempotency_keys)]
    )
