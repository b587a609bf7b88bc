"""The accounts admin page (/admin/accounts) for admins logged in to auth: list, create, change
role, deactivate. Each form posts, is CSRF-checked, and comes back to the list (post/redirect/get).
"""

import functools

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ates.web import unit_of_work
from auth import service
from auth.domain import ROLES, AccountChange, RuleBroken
from auth.service import AccountNotFound

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_only(view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("pages.login", next=request.full_path))
        if current_user.account.role != "admin":
            return render_template(
                "error.html", title="Admins only", message="Only an admin can manage accounts."
            ), 403
        return view(*args, **kwargs)

    return guarded


@bp.get("/accounts")
@admin_only
def accounts():
    return _page()


def _page(error: str | None = None, form: dict | None = None, status: int = 200):
    return render_template(
        "admin_accounts.html",
        accounts=service.list_accounts(unit_of_work()),
        roles=ROLES,
        me=current_user.account,
        error=error,
        form=form or {"role": "developer"},
    ), status


@bp.post("/accounts")
@admin_only
def create():
    form = {name: request.form.get(name, "") for name in ("username", "email", "full_name", "role")}
    try:
        account = service.create_account(
            unit_of_work(), password=request.form.get("password", ""), **form
        )
    except RuleBroken as broken:
        return _page(str(broken), form, 400)
    flash(f"Created {account.username} ({account.role}).")
    return redirect(url_for("admin.accounts"))


@bp.post("/accounts/<account_id>/role")
@admin_only
def change_role(account_id):
    return _change(account_id, AccountChange(role=request.form.get("role", "")), "Role changed.")


@bp.post("/accounts/<account_id>/deactivate")
@admin_only
def deactivate(account_id):
    return _change(account_id, AccountChange(active=False), "Account deactivated.")


def _change(account_id: str, change: AccountChange, done: str):
    try:
        account = service.change_account(
            unit_of_work(), account_id, change, current_user.account.account_id
        )
    except AccountNotFound:
        return _page("There is no such account.", status=404)
    except RuleBroken as broken:
        return _page(str(broken), status=400)
    flash(f"{account.username}: {done}")
    return redirect(url_for("admin.accounts"))
