"""Analytics' REST API (SPEC §8), for admins only: JSON out, a bearer token on every call.

A range is either `from` and `to` (dates, at most 366 days) or a `period` preset ending today
in ATES_TIMEZONE: day (today), week (the last 7 days), month (the last 30 days).
"""

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, fields, validate

from analytics import domain, service
from ates import clock, money
from ates.tokens import require_role
from ates.web import unit_of_work

api = Blueprint("api", __name__, url_prefix="/api")
DASHBOARD_ROLES = ("admin",)


class RangeQuery(Schema):
    """Documentation of the query: `from` and `to`, or a `period` preset."""

    from_ = fields.Date(data_key="from", metadata={"description": "first day (with `to`)"})
    to = fields.Date(metadata={"description": "last day (with `from`); at most 366 days in all"})
    period = fields.String(
        validate=validate.OneOf(["day", "week", "month"]),
        metadata={"description": "a preset ending today, instead of from and to"},
    )


class Summary(Schema):
    date = fields.Date(required=True)
    management_income = fields.String(required=True, metadata={"example": "120.00"})
    negative_balances = fields.Integer(
        required=True, metadata={"description": "popugs below zero now"}
    )


class ExpensiveTask(Schema):
    task_id = fields.UUID(required=True)
    jira_id = fields.String(required=True, allow_none=True)
    title = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null until the task's details arrive"},
    )
    reward = fields.String(required=True, metadata={"example": "38.00"})
    completed_at = fields.DateTime(required=True)


class DayTask(Schema):
    date = fields.Date(required=True)
    task = fields.Nested(ExpensiveTask, required=True, allow_none=True)


class MostExpensive(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    period = fields.String(required=True, allow_none=True)
    task = fields.Nested(ExpensiveTask, required=True, allow_none=True)
    by_day = fields.List(fields.Nested(DayTask), required=True)


class DayIncome(Schema):
    date = fields.Date(required=True)
    management_income = fields.String(required=True)


class Income(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    period = fields.String(required=True, allow_none=True)
    days = fields.List(fields.Nested(DayIncome), required=True)


@api.get("/summary")
@require_role(*DASHBOARD_ROLES)
def summary():
    """Today's figures (or another day's income): management income and popugs below zero now.
    ---
    get:
      parameters:
      - in: query
        name: date
        schema: {type: string, format: date}
      responses:
        200:
          description: the figures
          content:
            application/json:
              schema: Summary
    """
    day = domain.parse_day(request.args["date"], "date") if "date" in request.args else _today()
    with unit_of_work().read() as session:
        found = service.summary(session, day)
    return jsonify(
        date=found["date"].isoformat(),
        management_income=money.to_wire(found["management_income"]),
        negative_balances=found["negative_balances"],
    )


@api.get("/most-expensive-task")
@require_role(*DASHBOARD_ROLES)
def most_expensive_task():
    """The most expensive completed task of a range, and of each day in it.
    ---
    get:
      parameters:
      - in: query
        schema: RangeQuery
      responses:
        200:
          description: the task of the range (null when nothing was completed) and of each day
          content:
            application/json:
              schema: MostExpensive
    """
    first, last, period = _range(default_period="day")
    with unit_of_work().read() as session:
        found = service.most_expensive_task(session, first, last)
    return jsonify(
        {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "period": period,
            "task": task_json(found["task"]),
            "by_day": [
                {"date": day["date"].isoformat(), "task": task_json(day["task"])}
                for day in found["by_day"]
            ],
        }
    )


@api.get("/income")
@require_role(*DASHBOARD_ROLES)
def income():
    """Management income per day of a range.
    ---
    get:
      parameters:
      - in: query
        schema: RangeQuery
      responses:
        200:
          description: every day of the range, days without income included
          content:
            application/json:
              schema: Income
    """
    first, last, period = _range(default_period="month")
    with unit_of_work().read() as session:
        found = service.income_by_day(session, first, last)
    return jsonify(
        {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "period": period,
            "days": [
                {
                    "date": day["date"].isoformat(),
                    "management_income": money.to_wire(day["management_income"]),
                }
                for day in found["days"]
            ],
        }
    )


def task_json(task: domain.CompletedTask | None) -> dict | None:
    if task is None:
        return None
    return {
        "task_id": task.task_id,
        "jira_id": task.jira_id,
        "title": task.title,
        "reward": money.to_wire(task.reward),
        "completed_at": clock.to_wire(task.completed_at),
    }


def _range(default_period: str):
    """(from, to, period): the dates asked for, or the preset's (period is None for explicit dates)."""
    given = {name: request.args[name] for name in ("from", "to", "period") if name in request.args}
    if "period" in given and ("from" in given or "to" in given):
        raise domain.InvalidQuery("ask for either a period or from and to, not both")
    if "from" in given or "to" in given:
        if not ("from" in given and "to" in given):
            raise domain.InvalidQuery(
                "a range needs both from and to, e.g. ?from=2026-03-01&to=2026-03-31"
            )
        first, last = domain.checked_range(
            domain.parse_day(given["from"], "from"), domain.parse_day(given["to"], "to")
        )
        return first, last, None
    period = given.get("period", default_period)
    return (*domain.period_range(period, _today()), period)


def _today():
    return domain.day_of(clock.utcnow(), current_app.config["ATES"].timezone)
