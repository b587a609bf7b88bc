"""The mail outbox's sender: a worker job that mails the pending `mails` rows over SMTP.

A notice's transaction writes its mail row, so no notice that should be mailed goes unmailed.
The mailer leases a batch of rows in one transaction before sending (two workers do not send a
mail both), marks each sent right after the SMTP server accepted it, and on failure tries again
later (the batch's unsent rows are released at once). Each mail carries the
notice's own Message-ID, so a copy sent again after a crash between "accepted" and "marked"
(the one way to send twice) is recognisable as the same mail. A mail whose words are not complete
yet (a price still unknown) or whose popug has no address yet waits; a popug deactivated since
gets nothing (`dropped`).
"""

import logging
import smtplib
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import or_, select, update

from ates import clock
from ates.unit_of_work import UnitOfWork
from notifier import reading
from notifier.models import accounts, mails, notices

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)  # how long a sender may take before another may try the same mail
WAIT = timedelta(seconds=2)  # before looking again at a mail that could not be written yet
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
)
INCOMPLETE = "waiting for what the notice names (a task's title or price)"


def retry_delay(attempts: int) -> timedelta:
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


class Mailer:
    """A worker job: sends the pending mails, polling every `poll_interval` seconds."""

    def __init__(
        self,
        uow: UnitOfWork,
        smtp_host: str,
        smtp_port: int,
        sender: str,
        poll_interval: float = 0.5,
        batch_size: int = 100,
    ):
        self.uow = uow
        self.smtp_host, self.smtp_port, self.sender = smtp_host, smtp_port, sender
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = self.send_pending()
            except Exception:  # a database hiccup: the mails stay pending and are tried again
                log.exception("sending mail failed; trying again")
                sent = 0
            if sent < self.batch_size:
                self._stopping.wait(self.poll_interval)

    def stop(self) -> None:
        self._stopping.set()

    def send_pending(self) -> int:
        """Send the mails that are due (a batch); returns how many the SMTP server accepted."""
        with self.uow.read() as session:
            due = list(
                session.scalars(
                    select(mails.c.id)
                    .where(mails.c.status == "pending", _due(clock.utcnow()))
                    .order_by(mails.c.id)
                    .limit(self.batch_size)
                )
            )
        if not due:
            return 0
        sent = 0
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=10) as smtp:
                leased, until = self._lease(due)
                for position, (mail_id, mail) in enumerate(leased):
                    if self._stopping.is_set():
                        self._release([mail_id for mail_id, _ in leased[position:]], until)
                        break
                    try:
                        sent += self._send(smtp, mail_id, mail)
                    except (OSError, smtplib.SMTPException):
                        self._release([mail_id for mail_id, _ in leased[position + 1 :]], until)
                        raise
        except (OSError, smtplib.SMTPException) as error:  # the server is away: all wait for it
            log.warning("the SMTP server at %s:%s: %s", self.smtp_host, self.smtp_port, error)
            self._stopping.wait(retry_delay(1).total_seconds())
        return sent

    def _lease(self, mail_ids: list[int]) -> tuple[list[tuple[int, EmailMessage]], datetime]:
        """The mails among `mail_ids` still due and complete, leased to this sender until the time
        returned with them, in one transaction for the batch; of the others, a deactivated
        popug's are dropped and the rest told to wait (no address yet, or words incomplete)."""
        now = clock.utcnow()
        until = now + LEASE
        with self.uow.begin() as session:
            rows = (
                session.execute(
                    select(
                        mails.c.id.label("mail_id"),
                        mails.c.message_id,
                        notices,
                        accounts.c.email,
                        accounts.c.full_name,
                        accounts.c.active,
                    )
                    .select_from(
                        mails.join(notices, notices.c.notice_id == mails.c.notice_id).outerjoin(
                            accounts, accounts.c.account_id == notices.c.account_id
                        )
                    )
                    .where(mails.c.id.in_(mail_ids), mails.c.status == "pending", _due(now))
                    .order_by(mails.c.id)
                )
                .mappings()
                .all()
            )
            popugs = {row["account_id"]: row for row in rows}
            ready, dropped, waiting = [], [], defaultdict(list)
            for row, words in zip(rows, reading.shown_all(session, rows, popugs), strict=True):
                if row["active"] is False:
                    dropped.append(row["mail_id"])
                elif not row["email"]:
                    waiting["no email address known yet"].append(row["mail_id"])
                elif not words["complete"]:
                    waiting[INCOMPLETE].append(row["mail_id"])
                else:
                    ready.append((row, words))

            def claim(ids):  # still pending and due: another sender's lease is left alone
                return update(mails).where(
                    mails.c.id.in_(ids), mails.c.status == "pending", _due(now)
                )

            if dropped:
                session.execute(
                    claim(dropped).values(status="dropped", last_error="the popug was deactivated")
                )
            for reason, ids in waiting.items():
                session.execute(claim(ids).values(not_before=now + WAIT, last_error=reason))
            leased = set()
            if ready:
                leased = set(
                    session.scalars(
                        claim([row["mail_id"] for row, _ in ready])
                        .values(not_before=until, attempts=mails.c.attempts + 1)
                        .returning(mails.c.id)
                    )
                )
        mine = [(row, words) for row, words in ready if row["mail_id"] in leased]
        return [(row["mail_id"], self._message(row, words, now)) for row, words in mine], until

    def _message(self, row, words: dict, now: datetime) -> EmailMessage:
        mail = EmailMessage()
        mail["From"], mail["To"] = self.sender, row["email"]
        mail["Subject"] = words["subject"]
        mail["Message-ID"] = row["message_id"]
        mail["Date"] = format_datetime(now)
        mail["X-Ates-Notice"] = row["notice_id"]
        mail.set_content(words["body"])
        return mail

    def _release(self, mail_ids: list[int], until: datetime) -> None:
        """Leased mails this round will not send (stopping, or the server went away): due again
        at once, their lease not counted as a try."""
        if mail_ids:
            self.uow.write_alone(
                update(mails)
                .where(
                    mails.c.id.in_(mail_ids),
                    mails.c.status == "pending",
                    mails.c.not_before == until,
                )
                .values(not_before=None, attempts=mails.c.attempts - 1)
            )

    def _send(self, smtp: smtplib.SMTP, mail_id: int, mail: EmailMessage) -> int:
        try:
            smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as error:
            with self.uow.begin() as session:
                attempts = session.scalar(select(mails.c.attempts).where(mails.c.id == mail_id))
                session.execute(
                    update(mails)
                    .where(mails.c.id == mail_id)
                    .values(
                        not_before=clock.utcnow() + retry_delay(attempts),
                        last_error=f"{type(error).__name__}: {error}",
                    )
                )
            log.warning(
                "mail %s to %s not sent (%s); trying again later", mail_id, mail["To"], error
            )
            raise  # the connection may be broken: send_pending stops this round
        self.uow.write_alone(  # right after the server accepted it: the window for a second copy
            update(mails)
            .where(mails.c.id == mail_id)
            .values(status="sent", sent_at=clock.utcnow(), last_error=None)
        )
        return 1


def _due(now: datetime):
    return or_(mails.c.not_before.is_(None), mails.c.not_before <= now)
