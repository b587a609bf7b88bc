"""Payout mail: what the popug is told, and the worker job that sends the `emails` rows over SMTP.

A payout's transaction writes its mail row, so no payout goes untold. The mailer leases a row
before sending (two workers do not send it both), marks it sent after the SMTP server took it,
and on failure tries again later. A crash between sending and marking sends it once more:
mail is at least once.
"""

import logging
import smtplib
import threading
from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage

from sqlalchemy import or_, select, update

from accounting import domain
from accounting.models import accounts, emails, payouts
from ates import clock, money
from ates.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)  # how long a sender may take before another may try the same mail
WAIT_FOR_ADDRESS = timedelta(seconds=5)
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
)


def payout_mail(
    to: str, sender: str, full_name: str | None, amount: Decimal, billing_date: date
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"] = sender, to
    mail["Subject"] = f"aTES: ${money.to_wire(amount)} paid out for {billing_date.isoformat()}"
    mail.set_content(
        f"Hello {full_name or 'popug'},\n\n"
        f"the billing day {billing_date.isoformat()} is closed, and your balance of ${money.to_wire(amount)} "
        f"has been paid out to you. Your balance starts again from 0.00.\n\n"
        f"— UberPopug Inc. accounting\n"
    )
    return mail


def retry_delay(attempts: int) -> timedelta:
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


class Mailer:
    """A worker job: sends the pending payout mails, polling every `poll_interval` seconds."""

    def __init__(
        self,
        uow: UnitOfWork,
        smtp_host: str,
        smtp_port: int,
        sender: str,
        poll_interval: float = 1.0,
        batch_size: int = 50,
    ):
        self.uow = uow  # polling reads with uow.read(), which takes no write lock
        self.smtp_host, self.smtp_port, self.sender = smtp_host, smtp_port, sender
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.send_pending()
            except Exception:  # a database hiccup: the mails stay pending and are tried again
                log.exception("sending payout mail failed; trying again")
            self._stopping.wait(self.poll_interval)

    def stop(self) -> None:
        self._stopping.set()

    def send_pending(self) -> int:
        """Send every mail that is due; returns how many the SMTP server accepted."""
        with self.uow.read() as session:
            due = list(
                session.scalars(
                    select(emails.c.id)
                    .where(
                        emails.c.status == "pending",
                        or_(emails.c.not_before.is_(None), emails.c.not_before <= clock.utcnow()),
                    )
                    .order_by(emails.c.id)
                    .limit(self.batch_size)
                )
            )
        sent = 0
        for email_id in due:
            if self._stopping.is_set():
                break
            mail = self._lease(email_id)
            if mail is not None:
                sent += self._send(email_id, mail)
        return sent

    def _lease(self, email_id: int) -> EmailMessage | None:
        """The mail to send, now leased to this sender; None if another has it or no address is known yet."""
        now = clock.utcnow()
        with self.uow.begin() as session:
            row = session.execute(
                select(
                    payouts.c.amount, payouts.c.billing_date, accounts.c.email, accounts.c.full_name
                )
                .select_from(
                    emails.join(payouts, payouts.c.payout_id == emails.c.payout_id).outerjoin(
                        accounts, accounts.c.account_id == emails.c.account_id
                    )
                )
                .where(emails.c.id == email_id)
            ).first()
            claim = update(emails).where(
                emails.c.id == email_id,
                emails.c.status == "pending",
                or_(emails.c.not_before.is_(None), emails.c.not_before <= now),
            )
            if (
                row is None or not row.email
            ):  # the account's events have not arrived: wait, do not fail
                session.execute(
                    claim.values(
                        not_before=now + WAIT_FOR_ADDRESS, last_error="no email address known yet"
                    )
                )
                return None
            leased = session.execute(
                claim.values(not_before=now + LEASE, attempts=emails.c.attempts + 1)
            )
            if leased.rowcount != 1:
                return None
        return payout_mail(
            row.email, self.sender, row.full_name, domain.cents(row.amount), row.billing_date
        )

    def _send(self, email_id: int, mail: EmailMessage) -> int:
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=10) as smtp:
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as error:
            with self.uow.begin() as session:
                attempts = session.scalar(select(emails.c.attempts).where(emails.c.id == email_id))
                session.execute(
                    update(emails)
                    .where(emails.c.id == email_id)
                    .values(
                        not_before=clock.utcnow() + retry_delay(attempts),
                        last_error=f"{type(error).__name__}: {error}",
                    )
                )
            log.warning(
                "payout mail %s to %s not sent (%s); trying again later",
                email_id,
                mail["To"],
                error,
            )
            return 0
        with self.uow.begin() as session:
            session.execute(
                update(emails)
                .where(emails.c.id == email_id)
                .values(status="sent", sent_at=clock.utcnow(), last_error=None)
            )
        return 1
