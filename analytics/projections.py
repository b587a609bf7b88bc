"""How each event changes the read models: one projection per event, `fn(session, event, zone)`.

The live handlers and the rebuild run these same functions. Each is idempotent for its entity
(a task's price and completion are counted once, a snapshot never overwrites a newer one), and
one that must wait raises NotYet before it writes anything. Writes are single upserts, written
once here, so that a bulk loader can send many rows through the very same statements.
"""

import functools
from datetime import date

from sqlalchemy import and_, bindparam, func, or_, select

from analytics import domain
from analytics.models import (
    account_balances,
    accounts,
    completions,
    daily_income,
    daily_top_task,
    task_details,
    task_prices,
)
from ates import clock, money
from ates.bus import NotYet
from ates.db import dialect_of, insert_on_conflict
from ates.task_titles import split_v1_title

PROJECTIONS = {}  # (event type, version) -> projection; handlers.py registers each, archived


def projects(event_type: str, version: int):
    def register(projection):
        PROJECTIONS[event_type, version] = projection
        return projection

    return register


@projects("task.priced", 1)
def on_task_priced(session, event, zone):
    data = event.data
    session.execute(
        price_insert(dialect_of(session)),
        {
            "task_id": data["task_id"],
            "assign_fee": money.from_wire(data["assign_fee"]),
            "reward": money.from_wire(data["completion_reward"]),
        },
    )


@projects("task.created", 1)
def on_task_created_v1(session, event, zone):
    title, jira_id = split_v1_title(event.data["title"])
    session.execute(
        details_upsert(dialect_of(session)),
        {"task_id": event.data["task_id"], "jira_id": jira_id, "title": title, "version": 1},
    )


@projects("task.created", 2)
@projects("task.updated", 2)
def on_task_snapshot(session, event, zone):
    data = event.data
    session.execute(
        details_upsert(dialect_of(session)),
        {
            "task_id": data["task_id"],
            "jira_id": data["jira_id"],
            "title": data["title"],
            "version": data["version"],
        },
    )


REWARD = select(task_prices.c.reward).where(task_prices.c.task_id == bindparam("task_id_"))


@projects("task.completed", 1)
def on_task_completed(session, event, zone):
    task_id = event.data["task_id"]
    completed_at = clock.from_wire(event.data["completed_at"])
    completion = {
        "task_id": task_id,
        "completed_at": completed_at,
        "day": domain.day_of(completed_at, zone),
    }
    dialect = dialect_of(session)
    # the reward read and the completion counted in one statement; no row: no price yet, or
    # counted before (a second completion event), which a second look tells apart
    reward = session.scalar(priced_completion_insert(dialect), completion)
    if reward is not None:
        session.execute(top_task_upsert(dialect), {**completion, "reward": reward})
    elif session.scalar(REWARD, {"task_id_": task_id}) is None:
        raise NotYet(f"task {task_id} has no price yet (task.priced has not arrived)")


@projects("transaction.applied", 1)
def on_transaction_applied(session, event, zone):
    data, dialect = event.data, dialect_of(session)
    amount = money.from_wire(data["amount"])
    session.execute(balance_upsert(dialect), {"account_id": data["account_id"], "balance": amount})
    if data["kind"] in domain.INCOME_KINDS:
        session.execute(
            income_upsert(dialect),
            {
                "day": date.fromisoformat(data["billing_date"]),
                "management_income": domain.management_income(data["kind"], amount),
            },
        )


@projects("account.created", 1)
@projects("account.updated", 1)
@projects("account.deactivated", 1)
def on_account_snapshot(session, event, zone):
    data = event.data
    active = data.get("active", False)  # account.deactivated carries no flag: it is the flag
    session.execute(
        account_upsert(dialect_of(session)),
        {
            "account_id": data["account_id"],
            "active": active,
            "role": data.get("role"),
            "version": data["version"],
        },
    )


@projects("account.role_changed", 1)
def on_account_role_changed(session, event, zone):
    data = event.data
    known = session.scalar(
        select(accounts.c.version).where(accounts.c.account_id == data["account_id"])
    )
    if known is None:
        raise NotYet(f"account {data['account_id']} is not known yet")
    if data["version"] >= known:  # an older change never overwrites a newer snapshot
        session.execute(
            accounts.update()
            .where(accounts.c.account_id == data["account_id"])
            .values(role=data["role"], version=data["version"])
        )


@projects("task.assigned", 1)
@projects("payout.sent", 1)
@projects("billing_day.closed", 1)
def kept_in_the_archive_only(session, event, zone):
    """No read model needs these yet; archived, they are there for the next one to be built from."""


@functools.cache
def price_insert(dialect: str):
    return insert_on_conflict(dialect, task_prices).on_conflict_do_nothing(
        index_elements=["task_id"]
    )


@functools.cache
def details_upsert(dialect: str):
    statement = insert_on_conflict(dialect, task_details)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["task_id"],
        set_={"jira_id": new.jira_id, "title": new.title, "version": new.version},
        where=new.version > task_details.c.version,
    )


@functools.cache
def completion_insert(dialect: str):
    return insert_on_conflict(dialect, completions).on_conflict_do_nothing(
        index_elements=["task_id"]
    )


@functools.cache
def priced_completion_insert(dialect: str):
    """completion_insert with the task's reward taken from its price in the same statement; it
    returns the reward of the row it wrote (none when there is no price, or the task was counted)."""
    priced = select(
        *(
            bindparam(name, type_=completions.c[name].type)
            for name in ("task_id", "completed_at", "day")
        ),
        task_prices.c.reward,
    ).where(task_prices.c.task_id == bindparam("task_id"))
    return (
        insert_on_conflict(dialect, completions)
        .from_select(["task_id", "completed_at", "day", "reward"], priced)
        .on_conflict_do_nothing(index_elements=["task_id"])
        .returning(completions.c.reward)
    )


@functools.cache
def top_task_upsert(dialect: str):
    """The completion becomes its day's top task if it beats the one there, as domain.ranking says."""
    statement = insert_on_conflict(dialect, daily_top_task)
    new, top = statement.excluded, daily_top_task.c
    beats = or_(
        new.reward > top.reward,
        and_(
            new.reward == top.reward,
            or_(
                new.completed_at < top.completed_at,
                and_(new.completed_at == top.completed_at, new.task_id < top.task_id),
            ),
        ),
    )
    return statement.on_conflict_do_update(
        index_elements=["day"],
        set_={"task_id": new.task_id, "reward": new.reward, "completed_at": new.completed_at},
        where=beats,
    )


@functools.cache
def income_upsert(dialect: str):
    statement = insert_on_conflict(dialect, daily_income)
    return statement.on_conflict_do_update(
        index_elements=["day"],
        set_={
            # round: SQLite keeps the sum as a binary float, and a day must not drift off its cents
            "management_income": func.round(
                daily_income.c.management_income + statement.excluded.management_income, 2
            )
        },
    )


@functools.cache
def balance_upsert(dialect: str):
    statement = insert_on_conflict(dialect, account_balances)
    return statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            # round: a paid-out balance must come back to exactly 0, not to -1e-14 (which counts as negative)
            "balance": func.round(account_balances.c.balance + statement.excluded.balance, 2)
        },
    )


@functools.cache
def account_upsert(dialect: str):
    statement = insert_on_conflict(dialect, accounts)
    new = statement.excluded
    return statement.on_conflict_do_update(  # an older snapshot never overwrites a newer one
        index_elements=["account_id"],
        set_={
            "active": new.active,
            "role": func.coalesce(new.role, accounts.c.role),
            "version": new.version,
        },
        where=accounts.c.version <= new.version,
    )
