"""Every service's refusals are answered one way, by the handler service_app registers (ates/rules.py)."""

import pytest
from marshmallow import ValidationError

from accounting import domain as accounting
from analytics import domain as analytics
from ates.config import load_settings
from ates.rules import RuleBroken
from ates.web import service_app
from auth import domain as auth
from auth.service import UsernameTaken
from tracker import domain as tracker
from tracker.service import TaskNotFound

REFUSALS = [
    (tracker.InvalidTask, 400, "invalid_task"),
    (tracker.NoAssignee, 409, "no_assignee"),
    (tracker.NotYourTask, 403, "not_your_task"),
    (tracker.AlreadyDone, 409, "already_done"),
    (TaskNotFound, 404, "not_found"),
    (accounting.InvalidInput, 400, "invalid_input"),
    (accounting.DayNotOpenYet, 409, "not_open_yet"),
    (accounting.NoSuchBillingDay, 404, "not_found"),
    (analytics.InvalidQuery, 400, "invalid_query"),
    (auth.RuleBroken, 400, "invalid_request"),
    (UsernameTaken, 409, "conflict"),
]


def app_raising(error: Exception):
    app = service_app(__name__, "tracker", load_settings("tracker", {}))

    @app.get("/refused")
    def refused():
        raise error

    return app.test_client()


@pytest.mark.parametrize(
    ("kind", "status", "code"), REFUSALS, ids=[kind.__qualname__ for kind, _, _ in REFUSALS]
)
def test_a_refusal_answers_its_status_code_and_words(kind, status, code):
    assert issubclass(kind, RuleBroken)
    response = app_raising(kind("because the rules say so")).get("/refused")
    assert response.status_code == status
    assert response.get_json() == {"error": code, "message": "because the rules say so"}


def test_auth_refusals_are_still_value_errors_for_its_forms():
    assert (
        issubclass(auth.RuleBroken, ValueError)
        and str(auth.RuleBroken("Too short.")) == "Too short."
    )


def test_refused_input_names_every_field():
    response = app_raising(
        ValidationError(
            {"title": ["Missing data for required field."], "limit": ["Not a valid integer."]}
        )
    ).get("/refused")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_input",
        "message": "title: Missing data for required field.; limit: Not a valid integer.",
        "fields": {
            "title": ["Missing data for required field."],
            "limit": ["Not a valid integer."],
        },
    }
