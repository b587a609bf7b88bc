"""`python -m mailsink` serves on ATES_SMTP_HOST:ATES_SMTP_PORT (localhost:8025); `list` and `show
N` read the mail."""

import argparse
import logging
import sys

from ates.bus.runner import run_until_signalled
from ates.config import load_settings
from mailsink import MailSink, maildir_of, stored_mails, summary_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mailsink", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve", "list", "show"], default="serve")
    parser.add_argument(
        "number",
        nargs="?",
        type=int,
        help="which mail `show` prints, counting from 1 as `list` does",
    )
    arguments = parser.parse_args(argv)
    settings = load_settings("mailsink")
    maildir = maildir_of(settings.var_dir)
    if arguments.command == "serve":
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s mailsink %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("mail.log").setLevel(
            logging.WARNING
        )  # aiosmtpd narrates every SMTP command at INFO
        logging.getLogger(__name__).info(
            "storing mail sent to %s:%d in %s", settings.smtp_host, settings.smtp_port, maildir
        )
        return run_until_signalled(MailSink(maildir, settings.smtp_host, settings.smtp_port))
    mails = stored_mails(maildir)
    if arguments.command == "list":
        print(
            "\n".join(summary_line(number, mail) for number, mail in enumerate(mails, 1))
            or "no mail yet"
        )
        return 0
    if arguments.number is None or not 1 <= arguments.number <= len(mails):
        print(f"there are {len(mails)} mails; show one of 1..{len(mails)}", file=sys.stderr)
        return 1
    print(mails[arguments.number - 1].as_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
