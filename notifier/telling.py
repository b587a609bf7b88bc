"""Telling a popug: a notice, once per thing it is about, and its mail unless the popug turned
that mail off (notifier/domain.py decides which kinds are mailed); nobody inactive is told."""

import functools
import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from ates.bus import NotYet
from ates.db import dialect_of, insert_on_conflict
from notifier import domain
from notifier.models import accounts, mails, notices, notification_settings

MESSAGE_ID_DOMAIN = "notifier.ates"


def tell(
    session: Session,
    account_id: str,
    kind: str,
    subject_key: str,
    facts: Mapping,
    now: datetime,
    task_id: str | None = None,
) -> str | None:
    """A notice for the popug, and its mail unless they turned that mail off; None when the popug
    is inactive or was already told about `subject_key`."""
    account = session.execute(_told_whom, {"account_id": account_id}).first()
    if account is None:
        raise NotYet(f"account {account_id} has not arrived yet")
    if not account.active:
        return None
    notice_id = str(uuid.uuid4())
    written = session.execute(
        _notice_insert(dialect_of(session)),
        {
            "notice_id": notice_id,
            "subject_key": subject_key,
            "account_id": account_id,
            "kind": kind,
            "task_id": task_id,
            "facts": dict(facts),
            "created_at": now,
            "read_at": None,
        },
    )
    if written.rowcount == 0:
        return None  # told before: the subject's notice is there
    if domain.is_mailed(kind, account.task_mail):
        session.execute(
            insert(mails).values(
                notice_id=notice_id,
                message_id=f"<{notice_id}@{MESSAGE_ID_DOMAIN}>",
                status="pending",
                attempts=0,
                not_before=None,
                last_error=None,
                created_at=now,
                sent_at=None,
            )
        )
    return notice_id


# whether the popug is there and active, and their mail setting (None: no settings, the defaults)
_told_whom = (
    select(accounts.c.active, notification_settings.c.task_mail)
    .select_from(
        accounts.outerjoin(
            notification_settings, notification_settings.c.account_id == accounts.c.account_id
        )
    )
    .where(accounts.c.account_id == bindparam("account_id"))
)


@functools.cache
def _notice_insert(dialect: str):
    """A notice unless its subject has one: two events about one thing (a redelivery, or two
    workers) make one notice, found by the subject's unique key in the same statement."""
    statement = insert_on_conflict(dialect, notices)
    return statement.on_conflict_do_nothing(index_elements=["subject_key"])
