"""The auth worker process: the outbox relay (auth consumes no events) and the cleaner of old
idempotency keys."""

from ates.bus.worker import main
from ates.idempotency import Cleaner
from auth.models import idempotency_keys, outbox

if __name__ == "__main__":
    main("auth", outbox, None, None, jobs=lambda uow, _: [Cleaner(uow, idempotency_keys)])
