"""The notifier's use cases: learn from events and decide who is told what (the telling itself,
a notice and its mail, is notifier/telling.py's; what the popugs then read and set,
notifier/reading.py's).

Every function takes the caller's session (one unit of work: the handler's inbox transaction, or
the quiet-job flush's); none commits. Who is told:
- nobody inactive: a deactivated popug gets no notice and no mail;
- a task notice is mailed unless the popug turned task mail off; the end-of-day notice always is;
- a notice exists once per thing it is about (`subject_key`), however often its events come.
"""

import functools
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from ates import clock, money
from ates.bus import NotYet
from ates.db import dialect_of, insert_on_conflict
from ates.unit_of_work import UnitOfWork
from notifier import domain
from notifier.models import (
    accounts,
    day_activity,
    notices,
    payouts,
    reassignment_changes,
    tasks,
)
from notifier.telling import tell

# --- what the events teach ------------------------------------------------------------------


def learn_task_details(
    session: Session, task_id: str, jira_id: str | None, title: str, version: int
) -> None:
    """A task's title and Jira id, kept unless a newer version is already known."""
    session.execute(
        _details_upsert(dialect_of(session)),
        {"task_id": task_id, "jira_id": jira_id, "title": title, "details_version": version},
    )


def learn_price(
    session: Session, task_id: str, assign_fee: Decimal, completion_reward: Decimal
) -> None:
    session.execute(
        _price_upsert(dialect_of(session)),
        {"task_id": task_id, "assign_fee": assign_fee, "completion_reward": completion_reward},
    )


@functools.cache
def _details_upsert(dialect: str):
    """One statement whether the task is new or known (its price may have come first): an older
    version's words never overwrite a newer one's."""
    statement = insert_on_conflict(dialect, tasks)
    new, known = statement.excluded, tasks.c.details_version
    return statement.on_conflict_do_update(
        index_elements=["task_id"],
        set_={"jira_id": new.jira_id, "title": new.title, "details_version": new.details_version},
        where=or_(known.is_(None), new.details_version >= known),
    )


@functools.cache
def _price_upsert(dialect: str):
    statement = insert_on_conflict(dialect, tasks)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["task_id"],
        set_={"assign_fee": new.assign_fee, "completion_reward": new.completion_reward},
    )


def task_assigned(session: Session, data: Mapping, now: datetime) -> None:
    """At creation: the assignee is told. In a reassignment job: both ends' moves wait for the
    job to go quiet (flush_quiet_reassignments)."""
    _known_task(session, data["task_id"])
    if data["reassignment_id"] is None:
        tell(
            session,
            data["assignee_id"],
            domain.TASK_ASSIGNED,
            f"assigned:{data['task_id']}",
            {"task_id": data["task_id"]},
            now,
            task_id=data["task_id"],
        )
        return
    moves = domain.moves(data["task_id"], data["assignee_id"], data["previous_assignee_id"])
    if not moves:
        return
    _known_accounts(session, {account_id for account_id, _, _ in moves})
    session.execute(  # a redelivered event's rows are there already: left as they are
        _changes_insert(dialect_of(session)),
        [
            {
                "reassignment_id": data["reassignment_id"],
                "task_id": task_id,
                "change": change,
                "account_id": account_id,
                "received_at": now,
                "notice_id": None,
            }
            for account_id, change, task_id in moves
        ],
    )


@functools.cache
def _changes_insert(dialect: str):
    statement = insert_on_conflict(dialect, reassignment_changes)
    return statement.on_conflict_do_nothing(index_elements=["reassignment_id", "task_id", "change"])


def task_completed(session: Session, data: Mapping, now: datetime) -> None:
    _known_task(session, data["task_id"])
    tell(
        session,
        data["assignee_id"],
        domain.TASK_COMPLETED,
        f"completed:{data['task_id']}",
        {"task_id": data["task_id"]},
        now,
        task_id=data["task_id"],
    )


def transaction_applied(session: Session, data: Mapping) -> None:
    """The popug's day grows by one transaction (the inbox has made sure it is new)."""
    key = {
        "billing_date": date.fromisoformat(data["billing_date"]),
        "account_id": data["account_id"],
    }
    # Locked: two notifier workers apply two transactions of one popug at once on PostgreSQL, and
    # each would otherwise add its own to the same old row, the later commit losing the other's
    # (seen in tests/e2e/test_cluster.py). A row not there yet is inserted by one; the other's
    # insert fails on the primary key and its event is applied again, onto the row.
    row = (
        session.execute(
            select(day_activity)
            .where(*(day_activity.c[name] == value for name, value in key.items()))
            .with_for_update()
        )
        .mappings()
        .first()
    )
    day = (
        domain.DaySummary(key["billing_date"])
        if row is None
        else domain.DaySummary(
            key["billing_date"],
            *(domain.cents(row[name]) for name in ("earned", "fees", "paid_out", "balance")),
            row["balance_at"],
        )
    )
    day = day.with_transaction(
        data["kind"],
        money.from_wire(data["amount"]),
        money.from_wire(data["balance_after"]),
        clock.from_wire(data["applied_at"]),
    )
    values = {
        "earned": day.earned,
        "fees": day.fees,
        "paid_out": day.paid_out,
        "balance": day.balance,
        "balance_at": day.balance_at,
    }
    if row is None:
        session.execute(insert(day_activity).values(**key, **values))
    else:
        session.execute(
            update(day_activity)
            .where(*(day_activity.c[name] == value for name, value in key.items()))
            .values(**values)
        )


def payout_sent(session: Session, data: Mapping) -> None:
    if session.scalar(select(payouts.c.payout_id).where(payouts.c.payout_id == data["payout_id"])):
        return
    session.execute(
        insert(payouts).values(
            payout_id=data["payout_id"],
            billing_date=date.fromisoformat(data["billing_date"]),
            account_id=data["account_id"],
        )
    )


def billing_day_closed(session: Session, data: Mapping, now: datetime) -> int:
    """Every popug with activity that day is told its day; waits (NotYet) until every payout of the
    day and every popug's account have arrived. Returns how many were told."""
    billing_date = date.fromisoformat(data["billing_date"])
    seen = session.scalar(
        select(func.count()).select_from(payouts).where(payouts.c.billing_date == billing_date)
    )
    if seen < data["payouts"]:
        raise NotYet(f"{billing_date} paid {data['payouts']} popugs, the notifier has seen {seen}")
    told = 0
    rows = session.execute(
        select(day_activity)
        .where(day_activity.c.billing_date == billing_date)
        .order_by(day_activity.c.account_id)
    ).mappings()
    for row in list(rows):  # a popug not heard of yet: tell() waits (NotYet)
        day = domain.DaySummary(
            billing_date,
            *(domain.cents(row[name]) for name in ("earned", "fees", "paid_out", "balance")),
        )
        if tell(
            session,
            row["account_id"],
            domain.DAY_CLOSED,
            f"day:{billing_date.isoformat()}:{row['account_id']}",
            day.facts(),
            now,
        ):
            told += 1
    return told


def flush_quiet_reassignments(uow: UnitOfWork, quiet: timedelta, now: datetime) -> int:
    """Tell each popug what every reassignment job quiet for `quiet` did to them: one notice per
    popug per job (a job whose events stopped for longer than `quiet` and then went on gets a
    second, "continued" notice with only what came after). Returns the notices made."""
    with uow.read() as session:
        due = list(
            session.scalars(
                select(reassignment_changes.c.reassignment_id)
                .where(reassignment_changes.c.notice_id.is_(None))
                .group_by(reassignment_changes.c.reassignment_id)
                .having(func.max(reassignment_changes.c.received_at) <= now - quiet)
            )
        )
    made = 0
    for job in due:
        with uow.begin() as session:
            made += _flush_job(session, job, quiet, now)
    return made


def _flush_job(session: Session, job: str, quiet: timedelta, now: datetime) -> int:
    waiting = (
        select(reassignment_changes)
        .where(
            reassignment_changes.c.reassignment_id == job,
            reassignment_changes.c.notice_id.is_(None),
        )
        .with_for_update()
    )
    rows = list(session.execute(waiting).mappings())
    if not rows or max(row["received_at"] for row in rows) > now - quiet:
        return 0  # another notifier took it, or more arrived since
    made = 0
    for account_id, moved in domain.group_changes(
        (row["account_id"], row["change"], row["task_id"]) for row in rows
    ).items():
        part = 1 + session.scalar(
            select(func.count()).where(
                notices.c.subject_key.like(f"reassignment:{job}:{account_id}:%")
            )
        )
        notice_id = tell(
            session,
            account_id,
            domain.REASSIGNMENT,
            f"reassignment:{job}:{account_id}:{part}",
            {
                "reassignment_id": job,
                "got": moved[domain.GOT],
                "lost": moved[domain.LOST],
                "part": part,
            },
            now,
        )
        made += notice_id is not None
        for change in (domain.GOT, domain.LOST):
            if moved[change]:
                session.execute(
                    update(reassignment_changes)
                    .where(
                        reassignment_changes.c.reassignment_id == job,
                        reassignment_changes.c.account_id == account_id,
                        reassignment_changes.c.change == change,
                        reassignment_changes.c.task_id.in_(moved[change]),
                        reassignment_changes.c.notice_id.is_(None),
                    )
                    .values(notice_id=notice_id or "")
                )
    return made


def _known_task(session: Session, task_id: str) -> None:
    title = session.scalar(select(tasks.c.title).where(tasks.c.task_id == task_id))
    if title is None:
        raise NotYet(f"task {task_id}: its title has not arrived yet")


def _known_accounts(session: Session, account_ids: set[str]) -> None:
    known = set(
        session.scalars(select(accounts.c.account_id).where(accounts.c.account_id.in_(account_ids)))
    )
    if known != account_ids:
        raise NotYet(f"account {', '.join(sorted(account_ids - known))} has not arrived yet")
