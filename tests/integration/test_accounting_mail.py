"""Payout mail through a real SMTP server (aiosmtpd, started here), and the development mail sink
as the process the Procfile runs."""

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from accounting import billing, domain
from accounting.mailer import Mailer
from accounting.models import emails
from ates import clock
from tests.conftest import eventually
from tests.integration.accounting_fixtures import (
    account_created,
    accounting_db,  # noqa: F401 - a fixture
    new_id,
    task_assigned,
    task_completed,
)

ROOT = Path(__file__).resolve().parents[2]
D = date(2026, 3, 1)
SENDER = "accounting@uberpopug.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbound:
    """What a real SMTP server received: aiosmtpd's DATA handler keeps each message."""

    def __init__(self):
        self.mails: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.mails.append(message_from_bytes(envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def smtp_server(smtp_port):
    inbound = Inbound()
    controller = Controller(inbound, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield inbound
    controller.stop()


@pytest.fixture(autouse=True)
def fixed_price(monkeypatch):
    monkeypatch.setattr(
        domain, "draw_price", lambda *args: domain.Price(Decimal("10.00"), Decimal("29.00"))
    )


def paid_out(db, account_id: str, email: str | None = "kesha@uberpopug.example") -> None:
    """The account earns 19.00 on D and D is closed."""
    if email:
        db.apply(account_created(account_id, email=email))
    task = new_id()
    db.apply(task_assigned(task, account_id), task_completed(task, account_id))
    billing.close_billing_day(db.uow, D, today=D + timedelta(days=1))


def make_due(db) -> None:
    """Skip the wait before the next try."""
    with db.uow.begin() as session:
        session.execute(update(emails).values(not_before=clock.utcnow() - timedelta(seconds=1)))


def test_the_payout_mail_reaches_a_real_smtp_server_with_the_amount_and_the_day(
    accounting_db, smtp_server, smtp_port
):
    db = accounting_db
    db.open_day(D)
    paid_out(db, new_id())
    mailer = Mailer(db.uow, "127.0.0.1", smtp_port, SENDER)
    assert mailer.send_pending() == 1
    (mail,) = smtp_server.mails
    assert smtp_server.recipients == [["kesha@uberpopug.example"]] and mail["From"] == SENDER
    assert "19.00" in mail["Subject"] and "2026-03-01" in mail["Subject"]
    assert "$19.00" in mail.get_content() and "2026-03-01" in mail.get_content()
    assert [(e["status"], e["attempts"]) for e in db.emails()] == [("sent", 1)]
    assert mailer.send_pending() == 0 and len(smtp_server.mails) == 1


def test_mail_is_tried_again_while_the_smtp_server_is_down_and_never_lost(accounting_db, smtp_port):
    db = accounting_db
    db.open_day(D)
    paid_out(db, new_id())
    mailer = Mailer(db.uow, "127.0.0.1", smtp_port, SENDER)  # nothing listens there yet
    assert mailer.send_pending() == 0
    (pending,) = db.emails()
    assert pending["status"] == "pending" and pending["attempts"] == 1 and pending["last_error"]
    assert pending["not_before"] > clock.utcnow()
    assert mailer.send_pending() == 0  # not due again yet
    inbound = Inbound()
    controller = Controller(inbound, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        make_due(db)
        assert mailer.send_pending() == 1
        assert len(inbound.mails) == 1 and db.emails()[0]["status"] == "sent"
    finally:
        controller.stop()


def test_mail_to_a_popug_whose_address_is_not_known_yet_waits_for_it(
    accounting_db, smtp_server, smtp_port
):
    db = accounting_db
    db.open_day(D)
    kesha = new_id()
    paid_out(db, kesha, email=None)
    mailer = Mailer(db.uow, "127.0.0.1", smtp_port, SENDER)
    assert mailer.send_pending() == 0
    assert [(e["status"], e["attempts"], e["last_error"]) for e in db.emails()] == [
        ("pending", 0, "no email address known yet")
    ]
    db.apply(account_created(kesha, email="kesha@uberpopug.example"))
    make_due(db)
    assert mailer.send_pending() == 1 and smtp_server.recipients == [["kesha@uberpopug.example"]]


def test_the_mailer_job_sends_as_payouts_happen_and_stops_when_told(
    accounting_db, smtp_server, smtp_port
):
    db = accounting_db
    db.open_day(D)
    mailer = Mailer(db.uow, "127.0.0.1", smtp_port, SENDER, poll_interval=0.05)
    thread = threading.Thread(target=mailer.run, daemon=True)
    thread.start()
    try:
        paid_out(db, new_id())
        eventually(lambda: smtp_server.mails, timeout=10, message="the payout mail")
    finally:
        mailer.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_the_mail_sink_keeps_what_it_receives_for_an_admin_to_read(tmp_path, smtp_port):
    env = {
        **os.environ,
        "ATES_VAR_DIR": str(tmp_path),
        "ATES_SMTP_HOST": "127.0.0.1",
        "ATES_SMTP_PORT": str(smtp_port),
    }
    sink = subprocess.Popen(
        [sys.executable, "-m", "mailsink"],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "sink.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    try:

        def delivered():
            try:
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:
                    mail = EmailMessage()
                    mail["From"], mail["To"], mail["Subject"] = (
                        SENDER,
                        "kesha@uberpopug.example",
                        "aTES: $19.00 paid out",
                    )
                    mail.set_content("the billing day 2026-03-01 is closed")
                    smtp.send_message(mail)
                return True
            except OSError:
                return False

        eventually(delivered, timeout=20, interval=0.2, message="the mail sink to accept mail")
        listed = subprocess.run(
            [sys.executable, "-m", "mailsink", "list"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "kesha@uberpopug.example" in listed and "aTES: $19.00 paid out" in listed
        shown = subprocess.run(
            [sys.executable, "-m", "mailsink", "show", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "the billing day 2026-03-01 is closed" in shown
        assert list((tmp_path / "mail" / "new").iterdir())
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=30) == 0
