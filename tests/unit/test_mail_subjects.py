"""A Subject as the mail sink reads it back (mailsink.subject_of): what the sender wrote, although
SMTP folded a long one over lines and encoded a non-ASCII one (the notifier's "−$24.00")."""

import mailbox
from email import message_from_bytes
from email.message import EmailMessage

import pytest

from mailsink import subject_of

SUBJECTS = [
    "Completed: UBERPOP-1462 Teach the new popug no. 1462, you earned $30.00",
    "Your day 2026-12-01: balance carried \u2212$24.00, paid out $0.00",
    "New task for you: " + "a rather long title " * 6,
    "short",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_folded_or_encoded_subject_reads_back_as_written(subject):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "n@x", "k@x", subject.strip()
    mail.set_content("body")
    stored = mailbox.MaildirMessage(message_from_bytes(bytes(mail)))
    assert subject_of(stored) == subject.strip()
