"""Accounting's REST API (SPEC §8): balances, audit logs, income, closing a billing day.
JSON in and out, a bearer token on every call, money as two-place strings."""

import re
from datetime import date

from flask import Blueprint, current_app, g, jsonify, request

from accounting import billing, domain, reports
from accounting.api_schemas import AccountQuery
from ates import clock, money
from ates.tokens import require_role
from ates.web import unit_of_work

api = Blueprint("api", __name__, url_prefix="/api")
ACCOUNT_QUERY = AccountQuery()  # built once, as tracker/api.py says why
ACCOUNT_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
SEE_EVERYONE = sorted(domain.SEE_EVERYONE)
DEFAULT_INCOME_DAYS = 30


@api.get("/me/account")
@require_role()
def my_account():
    """My balance (an account never seen has 0.00).
    ---
    get:
      responses:
        200:
          description: my account and its balance
          content:
            application/json:
              schema: MyAccount
    """
    with unit_of_work().read() as session:
        balance = reports.balance_of(session, g.principal.account_id)
    return jsonify(account_id=g.principal.account_id, balance=money.to_wire(balance))


@api.get("/me/transactions")
@require_role()
def my_transactions():
    """My audit log of one billing day, in the order applied.
    ---
    get:
      parameters:
      - in: query
        schema: DayQuery
      responses:
        200:
          description: the day's transactions
          content:
            application/json:
              schema: AuditLog
    """
    return _audit_log_answer(g.principal.account_id)


@api.get("/accounts")
@require_role(*SEE_EVERYONE)
def every_account():
    """Every account with its balance, by name (admins and accountants); a role, a balance's sign
    and a page of them on asking.
    ---
    get:
      parameters:
      - in: query
        schema: AccountQuery
      responses:
        200:
          description: every account known from auth's events or from a transaction
          content:
            application/json:
              schema: AccountList
    """
    query = ACCOUNT_QUERY.load(request.args)
    with unit_of_work().read() as session:
        found = reports.every_account(session, query.get("role"), query.get("balance"))
    page, following = reports.page_after(
        found, str(query["after"]) if "after" in query else None, query.get("limit")
    )
    return jsonify(
        accounts=[{**account, "balance": money.to_wire(account["balance"])} for account in page],
        next=following,
    )


@api.get("/tasks/<task_id>")
@require_role()
def task_prices(task_id):
    """A task's price: its assign fee and completion reward (admins, accountants and managers; a
    popug whose balance it has touched).
    ---
    get:
      responses:
        200:
          description: the task's prices
          content:
            application/json:
              schema: TaskPrices
        404:
          description: not priced yet, or no such task
    """
    if not ACCOUNT_ID.fullmatch(task_id):
        raise domain.InvalidInput(f"{task_id!r} is not a task id (a UUID)")
    with unit_of_work().read() as session:
        if not domain.may_see_prices(g.principal.role) and not reports.touched(
            session, g.principal.account_id, task_id.lower()
        ):
            return jsonify(error="forbidden", message="this task is someone else's"), 403
        task = reports.task_prices(session, task_id.lower())
    return jsonify(
        {
            **task,
            "assign_fee": money.to_wire(task["assign_fee"]),
            "completion_reward": money.to_wire(task["completion_reward"]),
            "priced_at": clock.to_wire(task["priced_at"]),
        }
    )


@api.get("/accounts/<account_id>/transactions")
@require_role(*SEE_EVERYONE)
def account_transactions(account_id):
    """An account's audit log of one billing day (admins and accountants).
    ---
    get:
      parameters:
      - in: query
        schema: DayQuery
      responses:
        200:
          description: the day's transactions
          content:
            application/json:
              schema: AuditLog
    """
    if not ACCOUNT_ID.fullmatch(account_id):
        raise domain.InvalidInput(f"{account_id!r} is not an account id (a UUID)")
    return _audit_log_answer(account_id.lower())


@api.get("/income")
@require_role(*SEE_EVERYONE)
def income():
    """Management income per day over a range, every day included (admins and accountants).
    ---
    get:
      parameters:
      - in: query
        schema: IncomeQuery
      responses:
        200:
          description: income per day
          content:
            application/json:
              schema: Income
    """
    with unit_of_work().read() as session:
        last = _day_argument("to") or _open_or_today(session)
        first = _day_argument("from") or domain.days_before(last, DEFAULT_INCOME_DAYS - 1)
        days = reports.income_by_day(session, first, last)
    return jsonify(
        {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "days": [
                {"date": day.isoformat(), "management_income": money.to_wire(amount)}
                for day, amount in days
            ],
        }
    )


@api.get("/billing-days/current")
@require_role(*SEE_EVERYONE)
def current_billing_day():
    """The open billing day and its figures so far (admins and accountants: SPEC §3 gives them alone
    the management income, and the payouts add up everyone's balances).
    ---
    get:
      responses:
        200:
          description: the open day
          content:
            application/json:
              schema: BillingDay
    """
    with unit_of_work().read() as session:
        open_day = reports.current_billing_day(session)
        if open_day is None:  # nothing booked yet: the day the first transaction will open
            summary = {
                "billing_date": _local_today(),
                "status": domain.OPEN,
                "payouts": 0,
                "total_paid": domain.ZERO,
                "management_income": domain.ZERO,
            }
        else:
            summary = billing.day_summary(session, open_day)
    return jsonify(summary_json(summary))


@api.get("/billing-days/<day>")
@require_role(*SEE_EVERYONE)
def show_billing_day(day):
    """A billing day's status and figures (admins and accountants).
    ---
    get:
      responses:
        200:
          description: the day
          content:
            application/json:
              schema: BillingDay
        404:
          description: no such billing day
    """
    with unit_of_work().read() as session:
        return jsonify(
            summary_json(billing.day_summary(session, domain.parse_day(day, "the billing day")))
        )


@api.post("/billing-days/<day>/close")
@require_role(*SEE_EVERYONE)
def close_billing_day(day):
    """Close the open billing day by hand (admins and accountants): pay out every positive balance.

    Idempotent: a closed day answers its summary again; a close a crash interrupted is finished.
    ---
    post:
      responses:
        200:
          description: the day, closed
          content:
            application/json:
              schema: BillingDay
        404:
          description: an earlier day that was never a billing day
        409:
          description: the day is after the open one (not_open_yet)
    """
    summary = billing.close_billing_day(
        unit_of_work(), domain.parse_day(day, "the billing day"), _local_today()
    )
    return jsonify(summary_json(summary))


def summary_json(summary: dict) -> dict:
    return {
        "billing_date": summary["billing_date"].isoformat(),
        "status": summary["status"],
        "payouts": summary["payouts"],
        "total_paid": money.to_wire(summary["total_paid"]),
        "management_income": money.to_wire(summary["management_income"]),
    }


def transaction_json(transaction: dict) -> dict:
    return {
        "transaction_id": transaction["transaction_id"],
        "kind": transaction["kind"],
        "amount": money.to_wire(transaction["amount"]),
        "balance_after": money.to_wire(transaction["balance_after"]),
        "billing_date": transaction["billing_date"].isoformat(),
        "applied_at": clock.to_wire(transaction["applied_at"]),
        "task": transaction["task"],
    }


def _audit_log_answer(account_id: str):
    with unit_of_work().read() as session:
        day = _day_argument("date") or _open_or_today(session)
        log = reports.audit_log(session, account_id, day)
    return jsonify(
        date=day.isoformat(), account_id=account_id, transactions=[transaction_json(t) for t in log]
    )


def _day_argument(name: str) -> date | None:
    if name not in request.args:
        return None
    return domain.parse_day(request.args[name], name)


def _open_or_today(session) -> date:
    return reports.current_billing_day(session) or _local_today()


def _local_today() -> date:
    return domain.local_date(clock.utcnow(), current_app.config["ATES"].timezone)
