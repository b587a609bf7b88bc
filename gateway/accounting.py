"""Accounting pages: my balance and my audit log of a chosen day, for everyone; every account and
its log, management income per day and the close-day button, for admins and accountants. All
through accounting's API, with the signed-in popug's token."""

from datetime import date, timedelta
from urllib.parse import quote

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ates.roles import ROLES
from gateway import api_client
from gateway.api_client import ServiceError, uuid_or_none
from gateway.formatting import money

blueprint = Blueprint("accounting", __name__, url_prefix="/accounting")
SEE_EVERYONE = ("admin", "accountant")
INCOME_DAYS = 14
PAGE = 50  # accounts in a page of the list
SIGNS = {"negative": "below zero", "zero": "zero", "positive": "above zero"}


@blueprint.get("")
@login_required
def mine():
    account = api_client.get("accounting", "/api/me/account")
    log = _log_or_open_day("/api/me/transactions")
    if log is None:
        return redirect(url_for("accounting.mine"))
    return render_template(
        "accounting/mine.html", account=account, log=log, **_day_links(log["date"])
    )


@blueprint.get("/accounts")
@login_required
def every_account():
    _only_admins_and_accountants()
    role = request.args.get("role") if request.args.get("role") in ROLES else None
    sign = request.args.get("balance") if request.args.get("balance") in SIGNS else None
    after = uuid_or_none(request.args.get("after"))
    query = {"role": role, "balance": sign, "after": after, "limit": PAGE}
    try:
        page = api_client.get(
            "accounting", "/api/accounts", **{k: v for k, v in query.items() if v}
        )
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(error.message, "error")  # a page cursor gone stale: start again at the top
        return redirect(url_for("accounting.every_account", role=role, balance=sign))
    return render_template(
        "accounting/accounts.html",
        accounts=page["accounts"],
        next=page.get("next"),
        role=role,
        sign=sign,
        first_page=after is None,
        roles=ROLES,
        signs=SIGNS,
    )


@blueprint.get("/accounts/<account_id>")
@login_required
def account_log(account_id):
    _only_admins_and_accountants()
    log = _log_or_open_day(f"/api/accounts/{quote(account_id, safe='')}/transactions")
    if log is None:
        return redirect(url_for("accounting.account_log", account_id=account_id))
    account = next(
        (
            a
            for a in api_client.get("accounting", "/api/accounts")["accounts"]
            if a["account_id"] == log["account_id"]
        ),
        None,
    )
    return render_template(
        "accounting/account.html",
        account=account,
        account_id=account_id,
        log=log,
        **_day_links(log["date"]),
    )


@blueprint.get("/income")
@login_required
def income():
    _only_admins_and_accountants()
    current = api_client.get("accounting", "/api/billing-days/current")
    last = request.args.get("to") or current["billing_date"]
    first = request.args.get("from") or _days_before(last, INCOME_DAYS - 1)
    try:
        report = api_client.get("accounting", "/api/income", **{"from": first, "to": last})
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(error.message, "error")
        return redirect(url_for("accounting.income"))
    return render_template(
        "accounting/income.html",
        report=report,
        current=current,
        days=list(reversed(report["days"])),
    )


@blueprint.post("/billing-days/<day>/close")
@login_required
def close_day(day):
    _only_admins_and_accountants()
    try:
        closed = api_client.post("accounting", f"/api/billing-days/{day}/close")
        flash(
            f"Billing day {closed['billing_date']} is {closed['status']}: "
            f"{closed['payouts']} payouts, {money(closed['total_paid'])} paid, "
            f"management income {money(closed['management_income'])}.",
            "info",
        )
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(error.message, "error")
    return redirect(url_for("accounting.income"))


def _log_or_open_day(path: str) -> dict | None:
    """The audit log of the asked day; None (after a flash) when the day makes no sense."""
    day = request.args.get("date")
    try:
        return api_client.get("accounting", path, **({"date": day} if day else {}))
    except ServiceError as error:
        if error.status >= 500 or not day:
            raise
        flash(error.message, "error")
        return None


def _day_links(day: str) -> dict:
    return {"previous_day": _shifted(day, -1), "next_day": _shifted(day, 1)}


def _days_before(day: str, count: int) -> str:
    return (
        _shifted(day, -count) or day
    )  # a day accounting cannot use: it refuses the range and says why


def _shifted(day: str, days: int) -> str | None:
    try:
        return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
    except (ValueError, OverflowError):
        return None


def _only_admins_and_accountants():
    if current_user.role not in SEE_EVERYONE:
        abort(403)
