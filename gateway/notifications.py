"""A popug's notices in the web UI: the bell with the unread count in every page's header, the
notices page (a page at a time, mark read), and the mail settings. Everything comes from the
notifier's API with the popug's own token; the notifier shows nobody another's notices."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gateway import api_client, renewal
from gateway.api_client import ServiceError

blueprint = Blueprint("notifications", __name__, url_prefix="/notifications")
PAGE = 20


@blueprint.get("")
@login_required
def notices():
    unread = request.args.get("unread") == "true"
    params = {"limit": PAGE, "unread": "true" if unread else "false"}
    if request.args.get("before", "").isdigit():
        params["before"] = request.args["before"]
    page = api_client.get("notifier", "/api/me/notifications", **params)
    return render_template("notifications/list.html", page=page, unread_only=unread)


@blueprint.post("/<notice_id>/read")
@login_required
def mark_read(notice_id):
    api_client.post("notifier", f"/api/me/notifications/{notice_id}/read")
    return redirect(_back())


@blueprint.post("/read-all")
@login_required
def mark_all_read():
    marked = api_client.post("notifier", "/api/me/notifications/read-all")["marked"]
    flash(f"{marked} notice{'s' if marked != 1 else ''} marked read.", "info")
    return redirect(url_for("notifications.notices"))


@blueprint.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    if request.method == "POST":
        task_mail = request.form.get("task_mail") == "on"
        api_client.call(
            "notifier", "PUT", "/api/me/notification-settings", json={"task_mail": task_mail}
        )
        flash(
            "Task mail is on." if task_mail else "Task mail is off; notices still show here.",
            "info",
        )
        return redirect(url_for("notifications.settings"))
    found = api_client.get("notifier", "/api/me/notification-settings")
    return render_template("notifications/settings.html", settings=found)


def unread_count() -> int | None:
    """For the bell: the signed-in popug's unread notices; None when the notifier cannot say."""
    if not current_user.is_authenticated:
        return None
    try:
        return api_client.get("notifier", "/api/me/notifications", limit=1)["unread"]
    except (ServiceError, renewal.SignInRequired, KeyError, TypeError):
        return None


def _back() -> str:
    """Back to the page the form was on (only ever this blueprint's own page)."""
    before = request.form.get("before", "")
    unread = request.form.get("unread") == "true"
    args = {"unread": "true"} if unread else {}
    if before.isdigit():
        args["before"] = before
    return url_for("notifications.notices", **args)


def init_app(app) -> None:
    app.register_blueprint(blueprint)

    @app.context_processor
    def bell():
        return {"unread_notices": unread_count}
