"""Closing a billing day: pay out every positive balance, open the next day.

The popugs hear of their day from the notifier (payout.sent, billing_day.closed), not from here.

A close is three steps, each its own transaction, so a crash anywhere leaves a state the next
attempt simply continues from:
1. the day goes `open` -> `closing` and the next day opens (new transactions land there);
2. each positive balance is paid in a transaction of its own (payout row, unique per day and
   account; balance 0; payout transaction; `payout.sent`);
3. the day goes `closing` -> `closed` with its totals, and `billing_day.closed` is written once.
"""

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.orm import Session

from accounting import domain, events, ledger
from accounting.models import balances, billing_days, payouts, transactions
from ates import clock
from ates.unit_of_work import UnitOfWork

PAYOUT_BATCH = 200

AfterPayout = Callable[
    [dict], None
]  # called after each payout commits (the scheduler's stop check)


def close_billing_day(
    uow: UnitOfWork, billing_date: date, today: date, after_payout: AfterPayout | None = None
) -> dict:
    """Close the open day `billing_date`, or finish closing it; a closed day is left as it is.

    DayNotOpenYet for a day after the open one, NoSuchBillingDay for an earlier day that never was.
    An earlier close a crash interrupted is finished first, so each day's payouts are its own.
    """
    for earlier in _closing_days(uow, before=billing_date):
        close_billing_day(uow, earlier, today, after_payout)
    with uow.begin() as session:
        status = _start_closing(session, billing_date, today)
    if status != domain.CLOSED:
        pay_out_positive_balances(uow, billing_date, after_payout)
        with uow.begin() as session:
            _finish_closing(session, billing_date)
    with uow.read() as session:
        return day_summary(session, billing_date)


def close_due_days(
    uow: UnitOfWork, today: date, after_payout: AfterPayout | None = None
) -> list[dict]:
    """The scheduler's round: finish any close a crash interrupted, then close the open day if it is past."""
    closing = _closing_days(uow)
    with uow.read() as session:
        open_day = session.scalar(ledger.OPEN_DAY)
    due = closing + ([open_day] if open_day is not None and domain.is_due(open_day, today) else [])
    return [close_billing_day(uow, billing_date, today, after_payout) for billing_date in due]


def pay_out_positive_balances(
    uow: UnitOfWork, billing_date: date, after_payout: AfterPayout | None = None
) -> int:
    """Pay every account with a positive balance and no payout for the day yet, one transaction each."""
    paid = 0
    while True:
        with uow.read() as session:
            due = list(
                session.scalars(
                    select(balances.c.account_id)
                    .where(
                        balances.c.amount > 0,
                        ~exists().where(
                            payouts.c.billing_date == billing_date,
                            payouts.c.account_id == balances.c.account_id,
                        ),
                    )
                    .order_by(balances.c.account_id)
                    .limit(PAYOUT_BATCH)
                )
            )
        if not due:
            return paid
        for account_id in due:
            with uow.begin() as session:
                payout = pay_out(session, billing_date, account_id)
            if payout is not None:
                paid += 1
                if after_payout is not None:
                    after_payout(payout)


def pay_out(session: Session, billing_date: date, account_id: str) -> dict | None:
    """Pay the account's whole positive balance for the day, unless it is not positive or already paid.

    The balance is read under the row's lock that also sets it to zero: a fee or reward applied
    at the same moment comes before or after the payout, never in between.
    """
    balance = ledger.locked_balance(session, account_id)
    amount = domain.payout_amount(balance)
    already = session.scalar(
        select(payouts.c.payout_id).where(
            payouts.c.billing_date == billing_date, payouts.c.account_id == account_id
        )
    )
    if amount is None or already is not None:
        return None
    transaction = ledger.record_transaction(
        session, account_id, domain.PAYOUT, -amount, None, billing_date
    )
    now = clock.utcnow()
    payout = {
        "payout_id": str(uuid.uuid4()),
        "billing_date": billing_date,
        "account_id": account_id,
        "amount": amount,
        "transaction_id": transaction["transaction_id"],
        "paid_at": now,
    }
    session.execute(insert(payouts).values(**payout))
    ledger.OUTBOX.add(session, events.payout_sent(payout))
    return payout


def day_summary(session: Session, billing_date: date) -> dict:
    """A day's status and figures: stored once closed, counted so far while open or closing."""
    day = (
        session.execute(select(billing_days).where(billing_days.c.billing_date == billing_date))
        .mappings()
        .first()
    )
    if day is None:
        raise domain.NoSuchBillingDay(f"there is no billing day {billing_date}")
    if day["status"] == domain.CLOSED:
        count, total, income = (
            day["payouts"],
            domain.cents(day["total_paid"]),
            domain.cents(day["management_income"]),
        )
    else:
        count, total = _payout_totals(session, billing_date)
        income = management_income(session, billing_date)
    return {
        "billing_date": billing_date,
        "status": day["status"],
        "payouts": count,
        "total_paid": total,
        "management_income": income,
    }


def management_income(session: Session, billing_date: date) -> Decimal:
    amounts = session.scalar(
        select(func.sum(transactions.c.amount)).where(
            transactions.c.billing_date == billing_date,
            transactions.c.kind.in_(domain.INCOME_KINDS),
        )
    )
    return domain.management_income([amounts] if amounts is not None else [])


def _closing_days(uow: UnitOfWork, before: date | None = None) -> list[date]:
    query = select(billing_days.c.billing_date).where(billing_days.c.status == domain.CLOSING)
    if before is not None:
        query = query.where(billing_days.c.billing_date < before)
    with uow.read() as session:
        return list(session.scalars(query.order_by(billing_days.c.billing_date)))


def _start_closing(session: Session, billing_date: date, today: date) -> str:
    day = _locked_day(session, billing_date)
    if day is None:
        open_day = ledger.open_billing_day(session, lambda: today, lock=False)
        if billing_date > open_day:
            raise domain.DayNotOpenYet(
                f"{billing_date} is not open yet: the open billing day is {open_day}"
            )
        if billing_date < open_day:
            raise domain.NoSuchBillingDay(
                f"there was no billing day {billing_date}: accounting kept no books that day"
            )
        day = _locked_day(session, billing_date)
    if day["status"] == domain.OPEN:
        now = clock.utcnow()
        session.execute(
            update(billing_days)
            .where(billing_days.c.billing_date == billing_date)
            .values(status=domain.CLOSING, closing_at=now)
        )
        session.execute(
            insert(billing_days).values(
                billing_date=domain.next_open_day(billing_date, today),
                status=domain.OPEN,
                opened_at=now,
            )
        )
        return domain.CLOSING
    return day["status"]


def _finish_closing(session: Session, billing_date: date) -> None:
    count, total = _payout_totals(session, billing_date)
    income = management_income(session, billing_date)
    finished = session.execute(
        update(billing_days)
        .where(
            billing_days.c.billing_date == billing_date,
            billing_days.c.status == domain.CLOSING,
        )
        .values(
            status=domain.CLOSED,
            closed_at=clock.utcnow(),
            payouts=count,
            total_paid=total,
            management_income=income,
        )
    )
    if (
        finished.rowcount == 1
    ):  # a second closer that got here too finds the day closed and adds nothing
        ledger.OUTBOX.add(session, events.billing_day_closed(billing_date, count, total, income))


def _payout_totals(session: Session, billing_date: date) -> tuple[int, Decimal]:
    count, total = session.execute(
        select(func.count(), func.sum(payouts.c.amount)).where(
            payouts.c.billing_date == billing_date
        )
    ).one()
    return count, domain.cents(total if total is not None else domain.ZERO)


def _locked_day(session: Session, billing_date: date) -> dict | None:
    row = (
        session.execute(
            select(billing_days)
            .where(billing_days.c.billing_date == billing_date)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
