"""The notifier worker process: the event consumer, the reassignment notices and the mailer."""

from ates.bus.worker import main
from ates.config import Settings
from ates.unit_of_work import UnitOfWork
from notifier.handlers import handlers
from notifier.mailer import Mailer
from notifier.models import inbox
from notifier.reassignments import ReassignmentNotices


def jobs(uow: UnitOfWork, settings: Settings) -> list:
    return [
        ReassignmentNotices(uow, settings.reassignment_quiet_s),
        Mailer(uow, settings.smtp_host, settings.smtp_port, settings.mail_from),
    ]


if __name__ == "__main__":
    main("notifier", None, inbox, handlers, jobs=jobs)
