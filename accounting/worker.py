"""The accounting worker process: outbox relay, event consumer, and the mailer of payout mail."""

from accounting.handlers import handlers
from accounting.mailer import Mailer
from accounting.models import inbox, outbox
from ates.bus.worker import main
from ates.config import Settings
from ates.unit_of_work import UnitOfWork


def mailer(uow: UnitOfWork, settings: Settings) -> list[Mailer]:
    return [Mailer(uow, settings.smtp_host, settings.smtp_port, settings.mail_from)]


if __name__ == "__main__":
    main("accounting", outbox, inbox, handlers, jobs=mailer)
