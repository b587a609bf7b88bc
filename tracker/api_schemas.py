"""The shapes of the tracker's REST requests, answers and queries: `NewTask` and `TaskQuery` check
what a client sends; the others describe the JSON the views build, for /openapi.json (the
docstrings of tracker/api.py name them)."""

from marshmallow import RAISE, Schema, fields, validate


class NewTask(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(max=400))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    jira_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class Task(Schema):
    task_id = fields.UUID(required=True)
    jira_id = fields.String(required=True, allow_none=True, metadata={"example": "UBERPOP-42"})
    title = fields.String(required=True)
    description = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "done"]))
    assignee_id = fields.UUID(required=True)
    assignee = fields.Nested(lambda: Person(), required=True)
    created_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(required=True, allow_none=True)


class Person(Schema):
    """A popug as the tracker knows it from auth's events (names null until the first one)."""

    account_id = fields.UUID(required=True)
    username = fields.String(required=True, allow_none=True, metadata={"example": "kesha"})
    full_name = fields.String(required=True, allow_none=True, metadata={"example": "Kesha Popug"})
    role = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True, allow_none=True)


class PersonList(Schema):
    accounts = fields.List(fields.Nested(Person), required=True)


class TaskList(Schema):
    tasks = fields.List(fields.Nested(Task), required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    next = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "pass as `before` for the next page; null on the last"},
    )


class Reassignment(Schema):
    reassignment_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["running", "done"]))
    total = fields.Integer(required=True)
    reassigned = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True, allow_none=True)


class TaskQuery(Schema):
    scope = fields.String(load_default="mine", validate=validate.OneOf(["mine", "all"]))
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "done"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=1_000_000_000)
    )  # SQL integers are 64-bit
    before = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=2**62)
    )  # a page's `next`: stable while new tasks arrive, unlike an offset
    assignee = fields.UUID(load_default=None)  # with scope=all: one popug's tasks
