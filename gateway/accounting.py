"""Accounting pages: my balance and my audit log of a chosen day, for everyone; every account and
its log, management income per day and the close-day button, for admins and accountants. All
through accounting's API, with the signed-in popug's token."""

from datetime import date, timedelta
from urllib.parse import quote

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gateway import api_client
from gateway.api_client import ServiceError

blueprint = Blueprint("accounting", __name__, url_prefix="/accounting")
SEE_EVERYONE = ("admin", "accountant")
INCOME_DAYS = 14


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
    accounts = api_client.get("accounting", "/api/accounts")["accounts"]
    return render_template("accounting/accounts.html", accounts=accounts)


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
            f"Billing day {closed['billing_date']} is {closed['status']}: {closed['payouts']} payouts, "
            f"${closed['total_paid']} paid, management income ${closed['management_income']}.",
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
