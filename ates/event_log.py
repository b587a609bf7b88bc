"""What a service published about a task and which events it applied, for admins: `ates trace` reads it.

No service reads another's tables, so the path of a task through the system is put together from
what each service tells about its own: its outbox (events it published, with their correlation ids)
and its inbox (which event ids it applied, and when).

    GET /api/events/published?task_id=<uuid>   this service's events whose data names the task
    GET /api/events/applied?ids=<id>,<id>,...    which of these events this service applied
"""

import json
import uuid

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, fields
from sqlalchemy import Table, select

from ates import clock
from ates.tokens import require_role
from ates.web import unit_of_work

MAX_EVENTS = 1000  # a task has a few events per assignment; this is far more than any real one


class TaskEventsQuery(Schema):
    task_id = fields.UUID(required=True, metadata={"description": "the task whose events to list"})


class PublishedEvent(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True, metadata={"description": "e.g. `task.assigned`"})
    version = fields.Integer(required=True, metadata={"description": "the event's data version"})
    time = fields.String(required=True, metadata={"description": "the CloudEvents time, UTC"})
    correlation_id = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True, metadata={"description": "written to the outbox"})
    published_at = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "confirmed by the broker; null while still waiting"},
    )


class PublishedEvents(Schema):
    service = fields.String(required=True)
    task_id = fields.UUID(required=True)
    events = fields.List(fields.Nested(PublishedEvent), required=True)


class AppliedQuery(Schema):
    ids = fields.String(
        required=True,
        metadata={"description": f"1 to {MAX_EVENTS} event UUIDs, separated by commas"},
    )


class AppliedEvent(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True)
    applied_at = fields.DateTime(required=True)


class AppliedEvents(Schema):
    service = fields.String(required=True)
    events = fields.List(fields.Nested(AppliedEvent), required=True)


def event_log_blueprint(outbox: Table | None, inbox: Table | None) -> Blueprint:
    """The routes for the tables the service has (an analytics without an outbox has only `applied`)."""
    blueprint = Blueprint("event_log", __name__, url_prefix="/api/events")
    if outbox is not None:

        @require_role("admin")
        def published():
            """The events this service published about one task, oldest first (admins; `ates trace`).
            ---
            get:
              parameters:
              - in: query
                schema: TaskEventsQuery
              responses:
                200:
                  description: the events, with their correlation ids and when the broker confirmed them
                  content:
                    application/json:
                      schema: PublishedEvents
            """
            return _published(outbox)

        blueprint.add_url_rule("/published", view_func=published)
    if inbox is not None:

        @require_role("admin")
        def applied():
            """Which of the given events this service has applied, and when (admins; `ates trace`).
            ---
            get:
              parameters:
              - in: query
                schema: AppliedQuery
              responses:
                200:
                  description: the applied ones among the ids asked about; an id not listed was not applied
                  content:
                    application/json:
                      schema: AppliedEvents
            """
            return _applied(inbox)

        blueprint.add_url_rule("/applied", view_func=applied)
    return blueprint


def _published(outbox: Table):
    task_id = _uuid(request.args.get("task_id", ""))
    if task_id is None:
        return _bad_request("task_id must be a task's UUID")
    # The body is the JSON the outbox wrote (compact separators), so the task's id appears exactly so.
    needle = f'"task_id":"{task_id}"'
    query = (
        select(outbox.c.event_id, outbox.c.body, outbox.c.created_at, outbox.c.published_at)
        .where(outbox.c.body.contains(needle, autoescape=True))
        .order_by(outbox.c.id)
        .limit(MAX_EVENTS)
    )
    with unit_of_work().read() as session:
        rows = session.execute(query).all()
    events = []
    for row in rows:
        message = json.loads(row.body)
        if (message.get("data") or {}).get("task_id") != task_id:
            continue  # the id was somewhere else in the body
        events.append(
            {
                "event_id": row.event_id,
                "type": message["type"],
                "version": message["dataversion"],
                "time": message["time"],
                "correlation_id": message.get("correlationid"),
                "created_at": clock.to_wire(row.created_at),
                "published_at": clock.to_wire(row.published_at) if row.published_at else None,
            }
        )
    return jsonify(service=_service(), task_id=task_id, events=events)


def _applied(inbox: Table):
    given = [part.strip() for part in request.args.get("ids", "").split(",") if part.strip()]
    ids = [_uuid(part) for part in given]
    if not ids or None in ids or len(ids) > MAX_EVENTS:
        return _bad_request(f"ids must list 1 to {MAX_EVENTS} event UUIDs, separated by commas")
    query = (
        select(inbox.c.event_id, inbox.c.event_type, inbox.c.applied_at)
        .where(inbox.c.event_id.in_(ids))
        .order_by(inbox.c.applied_at)
    )
    with unit_of_work().read() as session:
        rows = session.execute(query).all()
    return jsonify(
        service=_service(),
        events=[
            {
                "event_id": row.event_id,
                "type": row.event_type,
                "applied_at": clock.to_wire(row.applied_at),
            }
            for row in rows
        ],
    )


def _uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text)) if len(text) <= 36 else None
    except ValueError:
        return None


def _service() -> str:
    return current_app.config["ATES"].service


def _bad_request(message: str):
    response = jsonify(error="invalid_input", message=message)
    response.status_code = 400
    return response
