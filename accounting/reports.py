"""What accounting shows: a balance, the audit log of a day, every account, income per day."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounting import domain, ledger
from accounting.models import accounts, balances, tasks, transactions

AUDIT_COLUMNS = (
    transactions.c.transaction_id,
    transactions.c.kind,
    transactions.c.amount,
    transactions.c.balance_after,
    transactions.c.billing_date,
    transactions.c.applied_at,
    transactions.c.task_id,
    tasks.c.jira_id,
    tasks.c.title,
    tasks.c.description,
)


def balance_of(session: Session, account_id: str) -> Decimal:
    amount = session.scalar(select(balances.c.amount).where(balances.c.account_id == account_id))
    return domain.cents(amount if amount is not None else domain.ZERO)


def current_billing_day(session: Session) -> date | None:
    """The open day, or None before accounting has booked anything at all."""
    return session.scalar(ledger.OPEN_DAY)


def audit_log(session: Session, account_id: str, billing_date: date) -> list[dict]:
    """The account's transactions of the day in the order applied, each with what is known of its task.

    A task whose details have not arrived yet has `title` None: the page says "unknown task".
    """
    rows = session.execute(
        select(*AUDIT_COLUMNS)
        .select_from(transactions.outerjoin(tasks, tasks.c.task_id == transactions.c.task_id))
        .where(transactions.c.account_id == account_id, transactions.c.billing_date == billing_date)
        .order_by(transactions.c.id)
    ).mappings()
    return [
        {
            "transaction_id": row["transaction_id"],
            "kind": row["kind"],
            "amount": domain.cents(row["amount"]),
            "balance_after": domain.cents(row["balance_after"]),
            "billing_date": row["billing_date"],
            "applied_at": row["applied_at"],
            "task": None
            if row["task_id"] is None
            else {
                "task_id": row["task_id"],
                "jira_id": row["jira_id"],
                "title": row["title"],
                "description": row["description"],
            },
        }
        for row in rows
    ]


def every_account(session: Session, role: str | None = None, sign: str | None = None) -> list[dict]:
    """Every account known from auth's events or from a transaction, with its balance; names first.
    `role` and `sign` (negative, zero, positive) keep only those accounts."""
    found = {
        row["account_id"]: {**row, "balance": domain.ZERO}
        for row in session.execute(
            select(
                accounts.c.account_id,
                accounts.c.username,
                accounts.c.full_name,
                accounts.c.role,
                accounts.c.active,
            )
        ).mappings()
    }
    for account_id, amount in session.execute(select(balances.c.account_id, balances.c.amount)):
        found.setdefault(
            account_id,
            {
                "account_id": account_id,
                "username": None,
                "full_name": None,
                "role": None,
                "active": None,
            },
        )["balance"] = domain.cents(amount)
    kept = [
        account
        for account in found.values()
        if (role is None or account["role"] == role)
        and (sign is None or SIGNS[sign](account["balance"]))
    ]
    return sorted(kept, key=lambda a: (a["username"] is None, a["username"] or "", a["account_id"]))


SIGNS = {
    "negative": lambda amount: amount < 0,
    "zero": lambda amount: amount == 0,
    "positive": lambda amount: amount > 0,
}


def page_after(
    accounts: list[dict], after: str | None, limit: int | None
) -> tuple[list[dict], str | None]:
    """The accounts after the one named `after` (in `every_account`'s order: an account that arrives
    meanwhile lands in its place and shifts no page), `limit` of them; and the `next` cursor."""
    start = 0
    if after is not None:
        start = next(
            (index + 1 for index, account in enumerate(accounts) if account["account_id"] == after),
            None,
        )
        if start is None:
            raise domain.InvalidInput(f"after: there is no account {after} in this list")
    if limit is None:
        return accounts[start:], None
    page = accounts[start : start + limit]
    more = start + limit < len(accounts)
    return page, page[-1]["account_id"] if more and page else None


def task_prices(session: Session, task_id: str) -> dict:
    row = (
        session.execute(
            select(
                tasks.c.task_id,
                tasks.c.jira_id,
                tasks.c.title,
                tasks.c.assign_fee,
                tasks.c.completion_reward,
                tasks.c.rewarded,
                tasks.c.priced_at,
            ).where(tasks.c.task_id == task_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise domain.NotPricedYet(f"task {task_id} has no price here (yet)")
    return {
        **row,
        "assign_fee": domain.cents(row["assign_fee"]),
        "completion_reward": domain.cents(row["completion_reward"]),
    }


def touched(session: Session, account_id: str, task_id: str) -> bool:
    """Whether any transaction of this account was for this task."""
    query = select(transactions.c.id).where(
        transactions.c.account_id == account_id, transactions.c.task_id == task_id
    )
    return session.execute(query.limit(1)).first() is not None


def income_by_day(session: Session, first: date, last: date) -> list[tuple[date, Decimal]]:
    """Management income of every day in the range, a day without transactions included (0.00)."""
    days = domain.report_days(first, last)
    sums = dict(
        session.execute(
            select(transactions.c.billing_date, func.sum(transactions.c.amount))
            .where(
                transactions.c.billing_date.between(first, last),
                transactions.c.kind.in_(domain.INCOME_KINDS),
            )
            .group_by(transactions.c.billing_date)
        ).all()
    )
    return [(day, domain.management_income([sums[day]] if day in sums else [])) for day in days]
