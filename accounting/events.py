"""The events accounting publishes (SPEC §5), built from its rows."""

from datetime import date
from decimal import Decimal

from accounting.domain import Price
from ates.bus import Event

SOURCE = "/accounting"


def task_priced(task_id: str, price: Price) -> Event:
    return Event(
        "task.priced",
        1,
        SOURCE,
        {
            "task_id": task_id,
            "assign_fee": price.assign_fee,
            "completion_reward": price.completion_reward,
        },
    )


def transaction_applied(transaction: dict) -> Event:
    return Event(
        "transaction.applied",
        1,
        SOURCE,
        {
            "transaction_id": transaction["transaction_id"],
            "account_id": transaction["account_id"],
            "kind": transaction["kind"],
            "amount": transaction["amount"],
            "balance_after": transaction["balance_after"],
            "task_id": transaction["task_id"],
            "billing_date": transaction["billing_date"],
            "applied_at": transaction["applied_at"],
        },
    )


def payout_sent(payout: dict) -> Event:
    return Event(
        "payout.sent",
        1,
        SOURCE,
        {
            "payout_id": payout["payout_id"],
            "account_id": payout["account_id"],
            "amount": payout["amount"],
            "billing_date": payout["billing_date"],
        },
    )


def billing_day_closed(
    billing_date: date, payouts: int, total_paid: Decimal, management_income: Decimal
) -> Event:
    return Event(
        "billing_day.closed",
        1,
        SOURCE,
        {
            "billing_date": billing_date,
            "payouts": payouts,
            "total_paid": total_paid,
            "management_income": management_income,
        },
    )
