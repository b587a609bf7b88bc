"""The ledger's two primitives, used inside a caller's transaction: which billing day is open,
and applying one transaction to a balance (row locked, the audit row and its event beside it)."""

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from accounting import domain, events
from accounting.models import balances, billing_days, outbox, transactions
from ates import clock
from ates.bus import Outbox
from ates.db import insert_if_absent

OUTBOX = Outbox(outbox)
OPEN_DAY = select(billing_days.c.billing_date).where(billing_days.c.status == domain.OPEN)
OPEN_DAY_SHARED = OPEN_DAY.with_for_update(read=True)
# built once with bound parameters, as the statements in service.py
BALANCE_LOCKED = (
    select(balances.c.amount)
    .where(balances.c.account_id == bindparam("account_id_"))
    .with_for_update()
)
SET_BALANCE = (
    update(balances)
    .where(balances.c.account_id == bindparam("account_id_"))
    .values(amount=bindparam("amount_"), updated_at=bindparam("now"))
)
RECORD = insert(transactions)


def open_billing_day(session: Session, today: Callable[[], date], lock: bool = True) -> date:
    """The day new transactions belong to; the very first one is today's local date.

    `lock` shares the day's row lock (PostgreSQL `FOR SHARE`): closing the day waits for every
    transaction already labelled with it to commit, so none lands on a day being paid out.
    """
    query = OPEN_DAY_SHARED if lock else OPEN_DAY
    found = session.scalar(query)
    if found is None:
        session.execute(
            insert_if_absent(session, billing_days, "billing_date").values(
                billing_date=today(), status=domain.OPEN, opened_at=clock.utcnow()
            )
        )
        found = session.scalar(query)
    if found is None:
        raise RuntimeError(
            "no billing day is open, and today's date is already taken by a closed one"
        )
    return found


def locked_balance(session: Session, account_id: str) -> Decimal:
    """The account's balance, its row locked until the caller's transaction ends (made at 0.00
    for an account never seen). SQLite's BEGIN IMMEDIATE already holds the database's write lock."""
    amount = session.scalar(BALANCE_LOCKED, {"account_id_": account_id})
    if amount is None:
        session.execute(
            insert_if_absent(session, balances, "account_id").values(
                account_id=account_id, amount=domain.ZERO, updated_at=clock.utcnow()
            )
        )
        amount = session.scalar(BALANCE_LOCKED, {"account_id_": account_id})
    return domain.cents(amount)


def record_transaction(
    session: Session,
    account_id: str,
    kind: str,
    amount: Decimal,
    task_id: str | None,
    billing_date: date,
) -> dict:
    """Apply a signed amount to the account: balance, audit row and `transaction.applied` together.

    The sum is done in Decimal, on a balance read under the row's lock, so that two workers
    never lose each other's update and no float rounding creeps into the stored balance.
    """
    amount = domain.cents(amount)
    after = domain.cents(locked_balance(session, account_id) + amount)
    now = clock.utcnow()
    session.execute(SET_BALANCE, {"account_id_": account_id, "amount_": after, "now": now})
    row = {
        "transaction_id": str(uuid.uuid4()),
        "account_id": account_id,
        "kind": kind,
        "amount": amount,
        "balance_after": after,
        "task_id": task_id,
        "billing_date": billing_date,
        "applied_at": now,
    }
    session.execute(RECORD, row)
    OUTBOX.add(session, events.transaction_applied(row))
    return row
