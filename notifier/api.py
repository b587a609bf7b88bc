"""The notifier's REST API (SPEC §8): a popug's own notices and mail settings, for every role.

JSON in and out, a bearer token on every call. Nobody reads or marks another popug's notices:
every route works on the caller's own (`g.principal`), and another's notice is simply not found.
"""

from zoneinfo import available_timezones

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, fields, validate

from ates import clock, json_body
from ates.tokens import require_role
from ates.web import unit_of_work
from notifier import domain, reading

api = Blueprint("api", __name__, url_prefix="/api")


class NotificationsQuery(Schema):
    unread = fields.Boolean(metadata={"description": "only the unread ones"})
    limit = fields.Integer(
        metadata={"description": f"1 to {domain.MAX_PAGE}; {domain.DEFAULT_PAGE} by default"}
    )
    before = fields.Integer(metadata={"description": "the `next` of the page before: older ones"})


class Notification(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True, metadata={"enum": list(domain.KINDS)})
    subject = fields.String(required=True)
    body = fields.String(required=True)
    task_id = fields.UUID(required=True, allow_none=True)
    details = fields.Dict(
        required=True,
        metadata={
            "description": "what the notice is made from, by kind: task_assigned and "
            "task_completed {task_id}; reassignment {reassignment_id, got, lost (task ids), part "
            "(2 and up: what came after the job paused)}; day_closed {billing_date, earned, fees, "
            "paid_out, balance}"
        },
    )
    created_at = fields.DateTime(required=True)
    read = fields.Boolean(required=True)
    read_at = fields.DateTime(required=True, allow_none=True)


class NotificationPage(Schema):
    notifications = fields.List(fields.Nested(Notification), required=True)
    next = fields.Integer(
        required=True, allow_none=True, metadata={"description": "`before` for the next page"}
    )
    unread = fields.Integer(required=True, metadata={"description": "all my unread notices"})


class MarkedAll(Schema):
    marked = fields.Integer(required=True, metadata={"description": "how many were unread"})


class NotificationSettings(Schema):
    task_mail = fields.Boolean(
        required=True,
        truthy={True},
        falsy={False},
        metadata={"description": "mail me task notices too (the end-of-day mail always comes)"},
    )
    timezone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(
            sorted(available_timezones()),
            error="{input!r} is not a time zone such as Europe/Moscow",
        ),
        metadata={
            "description": "the zone my pages show times in (IANA name); null: the system's",
            "example": "Europe/Moscow",
        },
    )


SCHEMAS = (NotificationsQuery, Notification, NotificationPage, MarkedAll, NotificationSettings)
SETTINGS = NotificationSettings()  # built once, as tracker/api.py says why


@api.get("/me/notifications")
@require_role()
def my_notifications():
    """My notices, newest first, a page at a time.
    ---
    get:
      parameters:
      - in: query
        schema: NotificationsQuery
      responses:
        200:
          description: a page of my notices
          content:
            application/json:
              schema: NotificationPage
        400:
          description: a query that makes no sense, in words
    """
    unread = domain.flag(request.args.get("unread"), "unread")
    limit = domain.page_size(request.args.get("limit"))
    before = domain.before_id(request.args.get("before"))
    me = g.principal.account_id
    with unit_of_work().read() as session:
        found, after = reading.notices_page(session, me, unread, limit, before)
        unread_total = reading.unread_count(session, me)
    return jsonify(
        notifications=[notification_json(notice) for notice in found],
        next=after,
        unread=unread_total,
    )


@api.post("/me/notifications/<notice_id>/read")
@require_role()
def mark_read(notice_id):
    """Mark one of my notices read (again is fine).
    ---
    post:
      parameters:
      - in: path
        name: notice_id
        schema: {type: string, format: uuid}
      responses:
        200:
          description: the notice, read
          content:
            application/json:
              schema: Notification
        404:
          description: no such notice of mine
    """
    with unit_of_work().begin() as session:
        notice = reading.mark_read(session, g.principal.account_id, notice_id, clock.utcnow())
    return jsonify(notification_json(notice))


@api.post("/me/notifications/read-all")
@require_role()
def mark_all_read():
    """Mark every notice of mine read.
    ---
    post:
      responses:
        200:
          description: how many were unread
          content:
            application/json:
              schema: MarkedAll
    """
    with unit_of_work().begin() as session:
        marked = reading.mark_all_read(session, g.principal.account_id, clock.utcnow())
    return jsonify(marked=marked)


@api.get("/me/notification-settings")
@require_role()
def my_settings():
    """My mail settings.
    ---
    get:
      responses:
        200:
          description: my settings
          content:
            application/json:
              schema: NotificationSettings
    """
    with unit_of_work().read() as session:
        return jsonify(reading.mail_settings(session, g.principal.account_id))


@api.put("/me/notification-settings")
@require_role()
def change_my_settings():
    """Change my settings: `{"task_mail": false}` stops task mail (notices still come);
    `timezone` is the zone my pages show times in (left out or null: the system's).
    ---
    put:
      requestBody:
        required: true
        content:
          application/json:
            schema: NotificationSettings
      responses:
        200:
          description: my settings now
          content:
            application/json:
              schema: NotificationSettings
        400:
          description: not a settings object, in words
    """
    given = SETTINGS.load(json_body.json_object("body"))
    with unit_of_work().begin() as session:
        changed = reading.change_mail_settings(
            session, g.principal.account_id, given["task_mail"], given["timezone"], clock.utcnow()
        )
    return jsonify(changed)


def notification_json(notice: dict) -> dict:
    return {
        "id": notice["notice_id"],
        "kind": notice["kind"],
        "subject": notice["subject"],
        "body": notice["body"],
        "task_id": notice["task_id"],
        "details": notice["facts"],
        "created_at": clock.to_wire(notice["created_at"]),
        "read": notice["read_at"] is not None,
        "read_at": clock.to_wire(notice["read_at"]) if notice["read_at"] else None,
    }
