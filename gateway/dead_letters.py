"""Dead letters for admins: every `.dead` queue grouped by reason, one letter in full, replay and discard.

The gateway reads the broker itself through `ates.dead_letters.queues`, the same code as `ates dlq`, as
the broker's operator user (ates/bus/users.py: reads `.dead` queues, writes the `.retry` exchanges);
the management UI is a link away.
"""

from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ates.dead_letters.queues import (
    BrokerUnavailable,
    DeadLetterError,
    DeadLetters,
    NotFound,
    Outcome,
)

blueprint = Blueprint("dead_letters", __name__, url_prefix="/admin/dead-letters")
SHOWN_PER_GROUP = (
    100  # rows of letters per group on the page; the group's buttons still take them all
)


@blueprint.before_request
def _only_admins():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role != "admin":
        abort(403)
    return None


@blueprint.get("")
def overview():
    queues, error, vhost = [], None, ""
    try:
        dead_letters = _dead_letters()
        vhost = dead_letters.vhost
        queues = dead_letters.list()
    except DeadLetterError as failure:
        error = str(failure)
    return render_template(
        "admin/dead_letters.html",
        queues=queues,
        error=error,
        shown_per_group=SHOWN_PER_GROUP,
        management_url=_management_url(),
        queue_page=_queue_pages(vhost),
    )


@blueprint.get("/message")
def message():
    queue, key = request.args.get("queue", ""), request.args.get("key", "")
    try:
        dead_letters = _dead_letters()
        shown = dead_letters.show(queue, key)
    except DeadLetterError as failure:
        flash(str(failure), "error")
        return redirect(url_for("dead_letters.overview"))
    return render_template(
        "admin/dead_letter.html", shown=shown, queue_page=_queue_pages(dead_letters.vhost)
    )


@blueprint.post("/replay")
def replay():
    return _act("replay")


@blueprint.post("/discard")
def discard():
    return _act("discard")


def _act(action: str):
    queue = request.form.get("queue", "")
    key, reason = request.form.get("key") or None, request.form.get("reason") or None
    if not queue or not (key or reason or request.form.get("all")):
        flash("Choose a queue, and a letter, a reason or all of them.", "error")
        return redirect(url_for("dead_letters.overview"))
    try:
        outcome = getattr(_dead_letters(), action)(queue, key=key, reason=reason)
    except NotFound as failure:
        flash(f"{failure}; someone may have dealt with it already.", "error")
    except DeadLetterError as failure:
        flash(str(failure), "error")
    else:
        _tell(outcome, action, by_key=bool(key))
    return redirect(url_for("dead_letters.overview"))


def _tell(outcome: Outcome, action: str, by_key: bool) -> None:
    done = "Replayed" if action == "replay" else "Discarded"
    count = len(outcome.done)
    told = f"{done} {count} dead letter{'' if count == 1 else 's'} from {outcome.queue}"
    if action == "replay" and outcome.done:
        told += " to " + ", ".join(sorted({letter.original_queue for letter in outcome.done}))
        told += "; what fails again comes back here with a fresh reason"
    flash(told + ".", "info")
    for letter, why in outcome.failed:
        flash(f"{letter.key} stays in {outcome.queue}: {why}.", "error")
    if outcome.unread and not by_key:
        flash(f"{outcome.unread} more were not read this time; do it again for them.", "info")


def _dead_letters() -> DeadLetters:
    # The API address may differ from the browser's link (in compose the gateway reaches `rabbitmq`, the
    # browser localhost); unset, DeadLetters takes it from the environment or the AMQP host.
    url = current_app.config["OPERATOR_AMQP_URL"]
    if url is None:
        raise BrokerUnavailable(
            "the gateway has no broker password for the operator user: set "
            "ATES_AMQP_PASSWORD_OPERATOR, or run python -m ates.bus.provision (bin/up does)"
        )
    return DeadLetters(url, management_url=current_app.config.get("RABBITMQ_MANAGEMENT_API_URL"))


def _management_url() -> str:
    return current_app.config["RABBITMQ_MANAGEMENT_URL"].rstrip("/")


def _queue_pages(vhost: str):
    """A queue's own page in RabbitMQ's management UI, for the templates."""
    base = _management_url()
    return lambda queue: f"{base}/#/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}"
