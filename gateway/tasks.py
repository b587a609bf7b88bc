"""Task pages: my tasks with a complete button and the create form; for admins and managers
every task and the reassign button with its job's progress. All through the tracker's API."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ates.redirects import local_path
from gateway import api_client
from gateway.api_client import ServiceError

blueprint = Blueprint("tasks", __name__, url_prefix="/tasks")
SEE_ALL = ("admin", "manager")


@blueprint.get("")
@login_required
def mine():
    tasks = api_client.get("tracker", "/api/tasks", scope="mine")["tasks"]
    return render_template(
        "tasks/mine.html",
        open_tasks=[t for t in tasks if t["status"] == "open"],
        done_tasks=[t for t in tasks if t["status"] == "done"],
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
        flash(error.message, "error")
        return redirect(url_for("tasks.mine", **{k: v for k, v in given.items() if v}))
    flash(f"Task “{task['title']}” created and assigned.", "info")
    return redirect(url_for("tasks.mine"))


@blueprint.post("/<task_id>/complete")
@login_required
def complete(task_id):
    try:
        task = api_client.post("tracker", f"/api/tasks/{task_id}/complete")
        flash(f"Task “{task['title']}” is done.", "info")
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(error.message, "error")
    return redirect(local_path(request.form.get("back")) or url_for("tasks.mine"))


@blueprint.get("/all")
@login_required
def every_task():
    _only_admins_and_managers()
    status = request.args.get("status") if request.args.get("status") in ("open", "done") else None
    tasks = api_client.get(
        "tracker", "/api/tasks", scope="all", **({"status": status} if status else {})
    )["tasks"]
    return render_template("tasks/all.html", tasks=tasks, status=status)


@blueprint.get("/reassign")
@login_required
def reassign_page():
    _only_admins_and_managers()
    job_id = request.args.get("job")
    job = api_client.get("tracker", f"/api/reassignments/{job_id}") if job_id else None
    return render_template("tasks/reassign.html", job=job)


@blueprint.post("/reassign")
@login_required
def reassign():
    _only_admins_and_managers()
    try:
        job = api_client.post("tracker", "/api/reassignments")
    except ServiceError as error:
        if error.status >= 500:
            raise
        flash(error.message, "error")
        return redirect(url_for("tasks.reassign_page"))
    return redirect(url_for("tasks.reassign_page", job=job["reassignment_id"]))


def _only_admins_and_managers():
    if current_user.role not in SEE_ALL:
        abort(403)
