"""The billing-day scheduler process: `python -m accounting.scheduler`.

Every ATES_SCHEDULER_INTERVAL_S seconds (30 by default) it closes the open billing day once that
day is past in ATES_TIMEZONE, and finishes any close a crash interrupted. After downtime the
first round catches up: the old open day closes and today opens. SIGTERM stops it between payouts.
"""

import logging
import sys
import threading
from zoneinfo import ZoneInfo

from accounting import billing, domain
from ates import clock, correlation, logs
from ates.bus.runner import run_until_signalled
from ates.config import DEFAULT_SCHEDULER_INTERVAL_S, load_settings
from ates.production import check_production
from ates.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class Stopping(Exception):
    """Raised between two payouts when the process is asked to stop; the next start resumes."""


class BillingDayScheduler:
    def __init__(
        self, uow: UnitOfWork, zone: ZoneInfo, interval: float = DEFAULT_SCHEDULER_INTERVAL_S
    ):
        self.uow = uow
        self.zone = zone
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.close_due_days()
            except Stopping:
                log.info("stopped in the middle of a close; the next start finishes it")
            except Exception:  # the database is busy or away: the next round tries again
                log.exception(
                    "closing the billing day failed; trying again in %.0fs", self.interval
                )
            self._stopping.wait(self.interval)

    def close_due_days(self) -> list[dict]:
        with correlation.correlated():  # each round's payouts and events share one id of their own
            today = domain.local_date(clock.utcnow(), self.zone)
            closed = billing.close_due_days(self.uow, today, after_payout=self._unless_stopping)
            for summary in closed:
                log.info(
                    "billing day %s is closed: %d payouts in all, %s paid",
                    summary["billing_date"],
                    summary["payouts"],
                    summary["total_paid"],
                )
        return closed

    def stop(self) -> None:
        self._stopping.set()

    def _unless_stopping(self, _payout: dict) -> None:
        if self._stopping.is_set():
            raise Stopping()


def main() -> int:
    logs.configure_logging("accounting", "scheduler")
    settings = load_settings("accounting")
    check_production(settings, process="scheduler")
    interval = settings.scheduler_interval_s
    uow = UnitOfWork.from_url(settings.database_url)
    log.info(
        "closing billing days at midnight %s, checking every %.0fs", settings.timezone.key, interval
    )
    return run_until_signalled(BillingDayScheduler(uow, settings.timezone, interval))


if __name__ == "__main__":
    sys.exit(main())
