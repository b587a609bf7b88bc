"""The tracker's REST API (SPEC §8): JSON in and out, a bearer token on every call."""

from flask import Blueprint, g, jsonify, request

from ates import clock, json_body
from ates.tokens import require_role
from ates.web import unit_of_work
from tracker import domain, reassigning, service
from tracker.api_schemas import NewTask, TaskQuery

api = Blueprint("api", __name__, url_prefix="/api")
# Built once: making a marshmallow schema copies its declared fields, three times the cost of
# the load itself (bench.http); a load keeps nothing in the instance, so the threads share it.
NEW_TASK, TASK_QUERY = NewTask(), TaskQuery()


@api.post("/tasks")
@require_role()
def create_task():
    """Create a task; it goes to a random assignable popug.
    ---
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: NewTask
      responses:
        201:
          description: the task, assigned
          content:
            application/json:
              schema: Task
        409:
          description: nobody can be assigned a task (no_assignee); nothing was stored
    """
    given = NEW_TASK.load(_json_body())
    with unit_of_work().begin() as session:
        task = service.create_task(
            session, g.principal.account_id, given["title"], given["description"], given["jira_id"]
        )
    return jsonify(task_json(task, {task["assignee_id"]: task["assignee"]})), 201


@api.get("/tasks")
@require_role()
def list_tasks():
    """My tasks, or every task (`scope=all`, admins and managers), newest first.
    ---
    get:
      parameters:
      - in: query
        schema: TaskQuery
      responses:
        200:
          description: one page of tasks
          content:
            application/json:
              schema: TaskList
    """
    query = TASK_QUERY.load(request.args)
    if query["scope"] == "all" and not domain.may_see_all_and_reassign(g.principal.role):
        return jsonify(error="forbidden", message="only admins and managers see every task"), 403
    if query["scope"] == "all":
        assignee = str(query["assignee"]) if query["assignee"] else None
    else:
        assignee = g.principal.account_id
    with unit_of_work().read() as session:
        found = service.list_tasks(
            session, assignee, query["status"], query["limit"], query["offset"], query["before"]
        )
        people = service.people(session, [task["assignee_id"] for task in found])
    full_page = len(found) == query["limit"]
    return jsonify(
        tasks=[task_json(task, people) for task in found],
        limit=query["limit"],
        offset=query["offset"],
        next=str(found[-1]["position"]) if full_page else None,
    )


@api.get("/accounts")
@require_role("admin", "manager")
def list_accounts():
    """The popugs the tracker knows, by name (admins and managers): whom a task can be filtered by.
    ---
    get:
      responses:
        200:
          description: every account the tracker has heard of
          content:
            application/json:
              schema: PersonList
    """
    with unit_of_work().read() as session:
        found = service.every_person(session)
    return jsonify(accounts=found)


@api.get("/tasks/<task_id>")
@require_role()
def show_task(task_id):
    """One task with its activity log (its assignee, admins and managers).
    ---
    get:
      responses:
        200:
          description: the task and its activity
          content:
            application/json:
              schema: Task
        404:
          description: no such task
    """
    with unit_of_work().read() as session:
        task = service.get_task(session, task_id)
        if task["assignee_id"] != g.principal.account_id and not domain.may_see_all_and_reassign(
            g.principal.role
        ):
            return jsonify(error="forbidden", message="this task is someone else's"), 403
        activity = service.task_activity_log(session, task_id)
        people = service.people(
            session, [task["assignee_id"], *(entry["account_id"] for entry in activity)]
        )
    return jsonify(
        task_json(task, people)
        | {
            "activity": [
                {
                    **entry,
                    "account": people.get(entry["account_id"]) or unknown(entry["account_id"]),
                    "at": clock.to_wire(entry["at"]),
                }
                for entry in activity
            ]
        }
    )


@api.post("/tasks/<task_id>/complete")
@require_role()
def complete_task(task_id):
    """Complete an open task of mine.
    ---
    post:
      responses:
        200:
          description: the task, done
          content:
            application/json:
              schema: Task
        404:
          description: no such task
        409:
          description: the task is already done
    """
    with unit_of_work().begin() as session:
        task = service.complete_task(session, g.principal.account_id, task_id)
    return jsonify(task_json(task, {task["assignee_id"]: task["assignee"]}))


@api.post("/reassignments")
@require_role("admin", "manager")
def start_reassignment():
    """Reassign every open task at random, as a background job (admins and managers).
    ---
    post:
      responses:
        202:
          description: the job, started
          content:
            application/json:
              schema: Reassignment
    """
    with unit_of_work().begin() as session:
        job = reassigning.start_reassignment(session, g.principal.account_id)
    return jsonify(reassignment_json(job)), 202


@api.get("/reassignments/<reassignment_id>")
@require_role("admin", "manager")
def show_reassignment(reassignment_id):
    """A reassignment job's progress.
    ---
    get:
      responses:
        200:
          description: the job
          content:
            application/json:
              schema: Reassignment
        404:
          description: no such job
    """
    with unit_of_work().read() as session:
        job = reassigning.get_reassignment(session, reassignment_id)
    return jsonify(reassignment_json(job))


def task_json(task: dict, people: dict[str, dict]) -> dict:
    """A task on the wire, its assignee by name as well as by id (`people`: service.people)."""
    return {
        "task_id": task["task_id"],
        "jira_id": task["jira_id"],
        "title": task["title"],
        "description": task["description"],
        "status": task["status"],
        "assignee_id": task["assignee_id"],
        "assignee": people.get(task["assignee_id"]) or unknown(task["assignee_id"]),
        "created_at": clock.to_wire(task["created_at"]),
        "completed_at": clock.to_wire(task["completed_at"]) if task["completed_at"] else None,
    }


def unknown(account_id: str) -> dict:
    """An account the tracker has not heard of from auth (yet): its id, no names."""
    return {
        "account_id": account_id,
        "username": None,
        "full_name": None,
        "role": None,
        "active": None,
    }


def reassignment_json(job: dict) -> dict:
    return {
        "reassignment_id": job["reassignment_id"],
        "status": job["status"],
        "total": job["total"],
        "reassigned": job["reassigned"],
        "created_at": clock.to_wire(job["created_at"]),
        "finished_at": clock.to_wire(job["finished_at"]) if job["finished_at"] else None,
    }


def _json_body() -> dict:
    return json_body.json_object("body")
