"""Task pages: my tasks with a complete button and the create form; a task's own page with its
activity, fee and reward; for admins and managers every task (by status and assignee, a page at a
time) and the reassign button with its job's live progress. All through the services' APIs."""

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ates.redirects import local_path
from gateway import api_client
from gateway.api_client import ServiceError, uuid_or_none
from gateway.formatting import name_of, task_label

blueprint = Blueprint("tasks", __name__, url_prefix="/tasks")
SEE_ALL = ("admin", "manager")
PAGE = 50  # tasks in a page of a list
STATUSES = ("open", "done")


@blueprint.get("")
@login_required
def mine():
    open_page = _page("tracker", scope="mine", status="open", before=_cursor("open_before"))
    done_page = _page("tracker", scope="mine", status="done", before=_cursor("done_before"))
    return render_template(
        "tasks/mine.html",
        open_tasks=open_page["tasks"],
        open_next=open_page["next"],
        done_tasks=done_page["tasks"],
        done_next=done_page["next"],
        form=request.args,
    )


@blueprint.post("")
@login_required
def create():
    given = {
        "title": request.form.get("title", ""),
        "description": request.form.get("description", ""),
        "jira_id": request.form.get("jira_id") or None,
    }
    try:
        task = api_client.post("tracker", "/api/tasks", json=given)
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(f"The task was not created: {error.message}", "error")
        return redirect(url_for("tasks.mine", **{k: v for k, v in given.items() if v}))
    flash(
        f"Task {task_label(task)} created and assigned to {name_of(task.get('assignee'))}.", "info"
    )
    return redirect(url_for("tasks.mine"))


@blueprint.get("/<task_id>")
@login_required
def show(task_id):
    task_id = uuid_or_none(task_id)
    if not task_id:
        abort(404)
    task = api_client.get("tracker", f"/api/tasks/{task_id}")
    try:
        prices = api_client.get("accounting", f"/api/tasks/{task_id}")
    except ServiceError as error:
        if error.status >= 500 and error.status != 503:
            raise
        prices = (
            None  # not priced yet, someone else's money, or accounting is away: the page says so
        )
    assignees = [entry for entry in task["activity"] if entry["kind"] == "assigned"]
    return render_template("tasks/task.html", task=task, prices=prices, assignees=assignees)


@blueprint.post("/<task_id>/complete")
@login_required
def complete(task_id):
    try:
        task = api_client.post("tracker", f"/api/tasks/{task_id}/complete")
        flash(f"Task “{task_label(task)}” is done.", "info")
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(f"The task was not completed: {error.message}", "error")
    return redirect(local_path(request.form.get("back")) or url_for("tasks.mine"))


@blueprint.get("/all")
@login_required
def every_task():
    _only_admins_and_managers()
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    assignee = uuid_or_none(request.args.get("assignee"))
    page = _page(
        "tracker",
        scope="all",
        before=_cursor("before"),
        **({"status": status} if status else {}),
        **({"assignee": assignee} if assignee else {}),
    )
    people = api_client.get("tracker", "/api/accounts")["accounts"]
    return render_template(
        "tasks/all.html",
        tasks=page["tasks"],
        next=page["next"],
        first_page=_cursor("before") is None,
        status=status,
        assignee=assignee,
        people=people,
    )


@blueprint.get("/reassign")
@login_required
def reassign_page():
    _only_admins_and_managers()
    job_id = request.args.get("job")
    job = _job(job_id) if job_id else None
    return render_template("tasks/reassign.html", job=job)


@blueprint.get("/reassign/<job_id>/progress")
@login_required
def reassign_progress(job_id):
    """The job as JSON, for the few lines of script that keep the page's bar moving."""
    _only_admins_and_managers()
    return jsonify(_job(job_id))


@blueprint.post("/reassign")
@login_required
def reassign():
    _only_admins_and_managers()
    try:
        job = api_client.post("tracker", "/api/reassignments")
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(f"The reassignment did not start: {error.message}", "error")
        return redirect(url_for("tasks.reassign_page"))
    flash(f"Reassignment started: {job['reassigned']} / {job['total']} open tasks.", "info")
    return redirect(url_for("tasks.reassign_page", job=job["reassignment_id"]))


def _job(job_id: str) -> dict:
    job_id = uuid_or_none(job_id)
    if not job_id:
        abort(404)
    return api_client.get("tracker", f"/api/reassignments/{job_id}")


def _page(service: str, before: str | None = None, **params) -> dict:
    return api_client.get(
        service, "/api/tasks", limit=PAGE, **params, **({"before": before} if before else {})
    )


def _cursor(name: str) -> str | None:
    value = request.args.get(name, "")
    return value if value.isdigit() and len(value) < 19 else None


def _only_admins_and_managers():
    if current_user.role not in SEE_ALL:
        abort(403)
