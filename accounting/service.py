"""Accounting's use cases for the tracker's events: fix a task's price once, learn its details,
debit the fee at every assignment, credit the reward once, to the assignee of record only. Each
runs in the caller's transaction (the consumer's), and the events it causes go to the outbox in
that same transaction."""

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from accounting import domain, events, ledger
from accounting.models import tasks
from ates import clock
from ates.bus import NotYet
from ates.db import insert_if_absent

PRICE = select(tasks.c.assign_fee, tasks.c.completion_reward)
# The statements of the everyday events, built once with bound parameters: a statement built per
# call costs SQLAlchemy its construction and cache key each time (~a quarter of a handler's Python).
LEARN = (
    update(tasks)
    .where(
        tasks.c.task_id == bindparam("task_id_"),
        or_(tasks.c.details_version.is_(None), tasks.c.details_version < bindparam("version")),
    )
    .values(
        jira_id=bindparam("jira_id_"),
        title=bindparam("title_"),
        description=bindparam("description_"),
        details_version=bindparam("version"),
    )
)
ASSIGN = (
    update(tasks)
    .where(
        tasks.c.task_id == bindparam("task_id_"),
        or_(
            tasks.c.assigned_at.is_(None),
            tasks.c.assigned_at < bindparam("at"),
            and_(
                tasks.c.assigned_at == bindparam("at"),
                tasks.c.assignee_id.is_not_distinct_from(bindparam("previous")),
            ),
        ),
    )
    .values(assignee_id=bindparam("assignee_id_"), assigned_at=bindparam("at"))
    .returning(tasks.c.assign_fee, tasks.c.completion_reward)
)
CLAIM_REWARD = (
    update(tasks)
    .where(
        tasks.c.task_id == bindparam("task_id_"),
        tasks.c.assignee_id == bindparam("assignee_id_"),
        tasks.c.rewarded.is_(False),
    )
    .values(rewarded=True)
    .returning(tasks.c.assign_fee, tasks.c.completion_reward)
)
ASSIGNEE_OF_RECORD = select(tasks.c.assignee_id).where(tasks.c.task_id == bindparam("task_id_"))


def price_of(session: Session, task_id: str) -> domain.Price:
    """The task's price; the first time accounting hears of the task it is drawn, stored and
    published. Insert-once: a racing worker's draw loses on the key and reads the winner's."""
    found = _stored_price(session, task_id)
    if found is not None:
        return found
    price = domain.draw_price()
    inserted = session.execute(
        insert_if_absent(session, tasks, "task_id").values(
            task_id=task_id,
            assign_fee=price.assign_fee,
            completion_reward=price.completion_reward,
            priced_at=clock.utcnow(),
            rewarded=False,
        )
    )
    if inserted.rowcount == 1:
        ledger.OUTBOX.add(session, events.task_priced(task_id, price))
        return price
    return _stored_price(session, task_id)


def learn_task_details(
    session: Session, task_id: str, jira_id: str | None, title: str, description: str, version: int
) -> None:
    """What the audit log shows of a task; a snapshot older than the one kept changes nothing.

    One statement when the task is known (every snapshot after the first); only a task heard of
    for the first time is priced first, then given its details."""
    learn = {
        "task_id_": task_id,
        "jira_id_": jira_id,
        "title_": title,
        "description_": description,
        "version": version,
    }
    if session.execute(LEARN, learn).rowcount == 0:  # a task new here, or an older snapshot
        price_of(session, task_id)
        session.execute(LEARN, learn)


def charge_assign_fee(
    session: Session,
    task_id: str,
    assignee_id: str,
    previous_assignee_id: str | None,
    assigned_at: datetime,
    today: Callable[[], date],
) -> dict:
    """Every assignment, the first at creation and each reassignment, costs the assignee the fee; the
    latest one by its time names the assignee of record (assignments may arrive out of order). Of two
    at the same moment, the later is the one that names the other's assignee as its previous one."""
    assign = {
        "task_id_": task_id,
        "assignee_id_": assignee_id,
        "previous": previous_assignee_id,
        "at": assigned_at,
    }
    row = session.execute(ASSIGN, assign).first()  # the usual case: one statement names and prices
    if row is None:  # a task new here (priced now, then assigned), or an older assignment
        price = price_of(session, task_id)
        session.execute(ASSIGN, assign).all()
    else:
        price = _price(row)
    return ledger.record_transaction(
        session,
        assignee_id,
        domain.ASSIGN_FEE,
        domain.fee_debit(price),
        task_id,
        ledger.open_billing_day(session, today),
    )


def pay_completion_reward(
    session: Session, task_id: str, assignee_id: str, today: Callable[[], date]
) -> dict | None:
    """The reward, once per task and only to its assignee of record: a completion of a task never seen
    assigned, or by someone else, is not yet believed (its assignment may still be on its way) and dies
    after its retries. A second completion (another event id) pays nothing; the conditional update is
    the claim, so two workers cannot both see the task unrewarded."""
    row = session.execute(CLAIM_REWARD, {"task_id_": task_id, "assignee_id_": assignee_id}).first()
    if row is None:  # why not: only then is it worth a second statement
        of_record = session.scalar(ASSIGNEE_OF_RECORD, {"task_id_": task_id})
        if of_record is None:
            raise NotYet(f"task {task_id} was never assigned here")
        if of_record != assignee_id:
            raise NotYet(f"task {task_id} is assigned to {of_record}, not to {assignee_id}")
        return None  # rewarded already, for another completion event
    price = _price(row)
    return ledger.record_transaction(
        session,
        assignee_id,
        domain.COMPLETION_REWARD,
        domain.reward_credit(price),
        task_id,
        ledger.open_billing_day(session, today),
    )


def _stored_price(session: Session, task_id: str) -> domain.Price | None:
    row = session.execute(PRICE.where(tasks.c.task_id == task_id)).first()
    return None if row is None else _price(row)


def _price(row) -> domain.Price:
    return domain.Price(domain.cents(row.assign_fee), domain.cents(row.completion_reward))
