"""The tracker worker process: outbox relay, event consumer, the reassignment runner, and the
cleaner of day-old idempotency keys."""

import logging
import threading

from ates import correlation
from ates.bus.wakeup import Wakeups
from ates.bus.worker import main
from ates.idempotency import Cleaner
from ates.unit_of_work import UnitOfWork
from tracker import reassigning
from tracker.handlers import handlers
from tracker.models import idempotency_keys, inbox, outbox

log = logging.getLogger(__name__)


class ReassignmentRunner:
    """Works through running reassignments, one batch per transaction, until none is left.

    On PostgreSQL a new job wakes it at once (`reassigning.WAKEUP_CHANNEL`, notified by the
    transaction that starts the job); the poll stays as the safety net and is all there is on
    SQLite or with ATES_OUTBOX_WAKEUPS=off. Polling alone, a job waited up to half a second to be
    noticed (bench.reassign: a quarter of its time on average)."""

    def __init__(
        self,
        uow: UnitOfWork,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        wakeups: bool = True,
    ):
        self.uow = uow
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.wakeups = Wakeups(uow.engine, reassigning.WAKEUP_CHANNEL, enabled=wakeups)
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self.wakeups.due():  # before the look: a job started during it wakes the wait
                    self.wakeups.listen()
                try:
                    self.work_through_running_jobs()
                except Exception:  # a database hiccup: the job stays running, picked up again
                    log.exception("reassignment batch failed; trying again")
                self.wakeups.wait(self.poll_interval, self._stopping)
        finally:
            self.wakeups.close()

    def work_through_running_jobs(self) -> None:
        with self.uow.read() as session:
            running = reassigning.running_reassignments(session)
        for reassignment_id in running:
            with self.uow.read() as session:
                started_by = reassigning.get_reassignment(session, reassignment_id)[
                    "correlation_id"
                ]
            with correlation.correlated(
                started_by
            ):  # the request that started the job, or a new id
                taken = self.batch_size
                while taken and not self._stopping.is_set():
                    with self.uow.begin() as session:
                        taken = reassigning.reassign_batch(
                            session, reassignment_id, self.batch_size
                        )
                    if taken:  # committed: with several workers, says which one did the batch
                        log.info("reassignment %s: took %d of its tasks", reassignment_id, taken)
                log.info(
                    "reassignment %s %s",
                    reassignment_id,
                    "paused" if taken else "has no task left for this runner",
                )

    def stop(self) -> None:
        self._stopping.set()


if __name__ == "__main__":
    main(
        "tracker",
        outbox,
        inbox,
        handlers,
        jobs=lambda uow, settings: [
            ReassignmentRunner(uow, wakeups=settings.outbox_wakeups),
            Cleaner(uow, idempotency_keys),
        ],
    )
