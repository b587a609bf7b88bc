"""What the popugs read and set: their notices put into words (with what is known now, not what
was known when the notice was made), marked read; their mail settings. Every function takes the
caller's session; none commits. What the events teach and who is told is notifier/service.py's."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from notifier import domain
from notifier.models import accounts, notices, notification_settings, tasks


def notices_page(
    session: Session, account_id: str, unread: bool, limit: int, before: int | None
) -> tuple[list[dict], int | None]:
    """One page of the popug's notices, newest first, and the `before` of the next page (or None)."""
    query = select(notices).where(notices.c.account_id == account_id)
    if unread:
        query = query.where(notices.c.read_at.is_(None))
    if before is not None:
        query = query.where(notices.c.id < before)
    rows = [
        dict(row)
        for row in session.execute(query.order_by(notices.c.id.desc()).limit(limit + 1)).mappings()
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return shown_all(session, rows), (rows[-1]["id"] if more else None)


def unread_count(session: Session, account_id: str) -> int:
    return session.scalar(
        select(func.count()).where(notices.c.account_id == account_id, notices.c.read_at.is_(None))
    )


def shown(session: Session, notice: Mapping, account: Mapping | None = None) -> dict:
    """The notice as its popug reads it: the facts put into words with what is known now."""
    given = None if account is None else {notice["account_id"]: account}
    return shown_all(session, [notice], given)[0]


def shown_all(
    session: Session, found: Sequence[Mapping], popugs: Mapping[str, Mapping] | None = None
) -> list[dict]:
    """Notices put into words (as `shown`) with one read of every task they name and one of their
    popugs (unless `popugs` gives them by account id), however many notices there are."""
    details = task_details(session, [task_id for notice in found for task_id in _task_ids(notice)])
    if popugs is None:
        ids = sorted({notice["account_id"] for notice in found})
        rows = session.execute(select(accounts).where(accounts.c.account_id.in_(ids))).mappings()
        popugs = {row["account_id"]: row for row in rows}
    shown_notices = []
    for notice in found:
        name = (popugs.get(notice["account_id"]) or {}).get("full_name")
        words = domain.wording(notice["kind"], notice["facts"], details, name)
        shown_notices.append(
            dict(notice)
            | {"subject": words.subject, "body": words.body, "complete": words.complete}
        )
    return shown_notices


def mark_read(session: Session, account_id: str, notice_id: str, now: datetime) -> dict:
    notice = (
        session.execute(
            select(notices).where(
                notices.c.notice_id == notice_id, notices.c.account_id == account_id
            )
        )
        .mappings()
        .first()
    )
    if notice is None:  # another popug's notice is as unknown as one that never was
        raise domain.NoSuchNotice(f"you have no notice {notice_id}")
    if notice["read_at"] is None:
        session.execute(update(notices).where(notices.c.notice_id == notice_id).values(read_at=now))
    return shown(session, dict(notice) | {"read_at": notice["read_at"] or now})


def mark_all_read(session: Session, account_id: str, now: datetime) -> int:
    return session.execute(
        update(notices)
        .where(notices.c.account_id == account_id, notices.c.read_at.is_(None))
        .values(read_at=now)
    ).rowcount


def mail_settings(session: Session, account_id: str) -> dict:
    row = session.execute(
        select(notification_settings.c.task_mail, notification_settings.c.timezone).where(
            notification_settings.c.account_id == account_id
        )
    ).first()
    if row is None:
        return {"task_mail": domain.DEFAULT_TASK_MAIL, "timezone": None}
    return {"task_mail": row.task_mail, "timezone": row.timezone}


def change_mail_settings(
    session: Session, account_id: str, task_mail: bool, timezone: str | None, now: datetime
) -> dict:
    values = {"task_mail": task_mail, "timezone": timezone, "updated_at": now}
    changed = session.execute(
        update(notification_settings)
        .where(notification_settings.c.account_id == account_id)
        .values(**values)
    ).rowcount
    if not changed:
        session.execute(insert(notification_settings).values(account_id=account_id, **values))
    return {"task_mail": task_mail, "timezone": timezone}


def task_details(session: Session, task_ids: Iterable[str]) -> dict[str, domain.TaskDetails]:
    wanted = sorted(set(task_ids))
    found: dict[str, domain.TaskDetails] = {}
    for start in range(0, len(wanted), 500):  # SQLite's variable limit, with room
        for row in session.execute(
            select(tasks).where(tasks.c.task_id.in_(wanted[start : start + 500]))
        ).mappings():
            found[row["task_id"]] = domain.TaskDetails(
                row["task_id"],
                row["jira_id"],
                row["title"],
                domain.cents(row["assign_fee"]) if row["assign_fee"] is not None else None,
                domain.cents(row["completion_reward"])
                if row["completion_reward"] is not None
                else None,
            )
    return found


def _task_ids(notice: Mapping) -> list[str]:
    facts = notice["facts"]
    if notice["kind"] == domain.REASSIGNMENT:
        return [*facts["got"], *facts["lost"]]
    return [facts["task_id"]] if "task_id" in facts else []
