"""A popug's notices in the web UI: the bell with the unread count in every page's header, the
notices page (a page at a time, mark read), and the settings (task mail, the time zone). All from the
notifier's API with the popug's own token; the notifier shows nobody another's notices."""

from zoneinfo import available_timezones

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, user_logged_in

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
        zone = request.form.get("timezone") or None
        try:
            saved = api_client.call(
                "notifier",
                "PUT",
                "/api/me/notification-settings",
                json={"task_mail": task_mail, "timezone": zone},
            )
        except ServiceError as error:
            if error.status >= 500:
                raise
            flash(f"Nothing was changed: {error.message}", "error")
            return redirect(url_for("notifications.settings"))
        session["timezone"] = saved.get("timezone") or ""
        flash(
            ("Task mail is on" if task_mail else "Task mail is off; notices still show here")
            + f". Times show in {saved.get('timezone') or 'the system’s zone'}.",
            "info",
        )
        return redirect(url_for("notifications.settings"))
    found = api_client.get("notifier", "/api/me/notification-settings")
    session["timezone"] = found.get("timezone") or ""
    return render_template(
        "notifications/settings.html",
        settings=found,
        zones=ZONES,
        system_zone=current_app.config["ATES"].timezone.key,
    )


def remember_my_timezone(*_sender, **_signal) -> None:
    """At sign-in: the popug's own zone into the session, so every page's times use it. Without
    the notifier at that moment the system's zone serves until the settings page is opened."""
    try:
        found = api_client.get("notifier", "/api/me/notification-settings")
    except (ServiceError, renewal.SignInRequired, KeyError):  # KeyError: a gateway without it
        return
    session["timezone"] = (found or {}).get("timezone") or ""


ZONES = sorted(available_timezones())


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
    user_logged_in.connect(remember_my_timezone, app)  # flask-login's signal, sent by login_user

    @app.context_processor
    def bell():
        return {"unread_notices": unread_count}
