"""The worker job that turns a quiet reassignment job into one notice per popug it touched.

A reassignment publishes a task.assigned per task, with its job's `reassignment_id`. There is no
"job done" event, so the notifier waits until a job's events have stopped arriving for `quiet`
seconds (ATES_REASSIGNMENT_QUIET_S), then tells each popug, once, every task it got and lost.

A notifier that was down while a job ran finds the job's first events in its database, long
"quiet", and the rest still waiting in its queue: so after a start it tells nothing until it has
itself been up for the quiet time, and the backlog can arrive first.
"""

import logging
import threading
import time
from datetime import timedelta

from ates import clock
from ates.unit_of_work import UnitOfWork
from notifier import service

log = logging.getLogger(__name__)


class ReassignmentNotices:
    def __init__(self, uow: UnitOfWork, quiet_s: float, poll_interval: float = 0.5):
        self.uow = uow
        self.quiet = timedelta(seconds=quiet_s)
        self.poll_interval = min(poll_interval, max(quiet_s / 2, 0.05))
        self._stopping = threading.Event()
        self._started = time.monotonic()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                made = self.flush()
                if made:
                    log.info("%s reassignment notices made", made)
            except Exception:  # a database hiccup: the changes wait and are looked at again
                log.exception("making reassignment notices failed; trying again")
            self._stopping.wait(self.poll_interval)

    def flush(self) -> int:
        if time.monotonic() - self._started < self.quiet.total_seconds():
            return 0  # just started: what waited in the queue while we were away comes first
        return service.flush_quiet_reassignments(self.uow, self.quiet, clock.utcnow())

    def stop(self) -> None:
        self._stopping.set()
