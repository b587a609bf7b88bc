"""A local SMTP sink for the development setup: every mail sent to it lands in a Maildir under
`<ATES_VAR_DIR>/mail/`, where `python -m mailsink list` and `show N` read it. Nothing is delivered."""

import mailbox
import threading
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def maildir_of(var_dir: Path) -> Path:
    return Path(var_dir) / "mail"


class MailSink:
    """An aiosmtpd server storing into a Maildir; run() serves until stop() (thread-safe)."""

    def __init__(self, maildir: Path, host: str, port: int):
        for part in (
            "tmp",
            "new",
            "cur",
        ):  # a Maildir's three folders, also when the folder already exists
            (Path(maildir) / part).mkdir(parents=True, exist_ok=True)
        self.maildir, self.host, self.port = Path(maildir), host, port
        self._stopping = threading.Event()

    def run(self) -> None:
        controller = Controller(Mailbox(self.maildir), hostname=self.host, port=self.port)
        controller.start()
        try:
            self._stopping.wait()
        finally:
            controller.stop()

    def stop(self) -> None:
        self._stopping.set()


def stored_mails(maildir: Path) -> list[mailbox.MaildirMessage]:
    """The stored mails, oldest first; `show N` counts from 1 in this order."""
    if not Path(maildir).is_dir():
        return []
    box = mailbox.Maildir(maildir, create=False)
    return sorted(
        box.values(),  # iterating a Mailbox yields its messages; `key in box` would not
        key=lambda mail: (mail.get_date(), mail.get("Message-ID", "")),
    )


def subject_of(mail: mailbox.MaildirMessage) -> str:
    """The Subject as a person reads it: encoded words decoded, a folded line unfolded."""
    raw = (mail["Subject"] or "").replace("\r\n", "").replace("\n", "")
    return str(make_header(decode_header(raw))).strip()


def summary_line(number: int, mail: mailbox.MaildirMessage) -> str:
    try:
        sent = parsedate_to_datetime(mail["Date"]).isoformat() if mail["Date"] else "-"
    except (TypeError, ValueError):
        sent = mail["Date"]
    return f"{number:>4}  {sent}  from {mail['From']}  to {mail['To']}  {subject_of(mail)}"
