"""`ates trace`: assembling what each service tells into one path, and what it does when a service
can't tell."""

import argparse

import requests

from cli import trace

TASK = "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34"
URLS = {
    "tracker": "http://tracker",
    "accounting": "http://accounting",
    "analytics": "http://analytics",
}


def published(event_id, event_type, created_at, correlation_id):
    return {
        "event_id": event_id,
        "type": event_type,
        "version": 1,
        "time": created_at,
        "correlation_id": correlation_id,
        "created_at": created_at,
        "published_at": created_at,
    }


ANSWERS = {
    ("http://tracker/api/events/published", None): {
        "events": [
            published("e-1", "task.created", "2026-03-01T10:00:00.100Z", "req-a"),
            published("e-4", "task.completed", "2026-03-01T11:00:00.000Z", "req-b"),
        ]
    },
    ("http://accounting/api/events/published", None): {
        "events": [published("e-2", "task.priced", "2026-03-01T10:00:00.300Z", "req-a")]
    },
    ("http://tracker/api/events/applied", None): {"events": []},
    ("http://accounting/api/events/applied", None): {
        "events": [
            {"event_id": "e-1", "type": "task.created", "applied_at": "2026-03-01T10:00:00.200Z"}
        ]
    },
    ("http://analytics/api/events/applied", None): {
        "events": [
            {"event_id": "e-2", "type": "task.priced", "applied_at": "2026-03-01T10:00:00.400Z"},
            {"event_id": "e-1", "type": "task.created", "applied_at": "2026-03-01T10:00:00.250Z"},
        ]
    },
}


class Answer:
    def __init__(self, status, body=None):
        self.status_code, self.body, self.ok = status, body, status < 400

    def json(self):
        return self.body


def fake_get(url, params=None, headers=None, timeout=None):
    assert headers == {"Authorization": "Bearer the-token"}
    if url.startswith("http://analytics") and url.endswith("published"):
        return Answer(404)  # analytics publishes nothing
    return Answer(200, ANSWERS[url, None])


def test_the_path_is_grouped_by_correlation_id_in_time_order():
    found = trace.collect(TASK, URLS, "the-token", fake_get)
    assert [event["event_id"] for event in found["events"]] == ["e-1", "e-2", "e-4"]
    assert found["events"][0]["applied"] == {
        "accounting": "2026-03-01T10:00:00.200Z",
        "analytics": "2026-03-01T10:00:00.250Z",
    }
    text = trace.render(found)
    assert text.splitlines()[0] == f"Task {TASK}: 3 events, 2 correlation ids"
    assert (
        text.index("correlation req-a")
        < text.index("task.priced")
        < text.index("correlation req-b")
    )
    assert (
        "applied by accounting 2026-03-01T10:00:00.200Z, analytics 2026-03-01T10:00:00.250Z" in text
    )
    assert "applied by nobody yet" in text  # the completion


def test_a_service_that_cannot_be_reached_is_reported_and_the_rest_still_shown(capsys):
    def get(url, **kwargs):
        if url.startswith("http://accounting"):
            raise requests.ConnectionError("refused")
        return fake_get(url, **kwargs)

    found = trace.collect(TASK, URLS, "the-token", get)
    assert [event["event_id"] for event in found["events"]] == ["e-1", "e-4"]
    assert found["problems"] == [
        "accounting: cannot be reached at http://accounting/api/events/published",
        "accounting: cannot be reached at http://accounting/api/events/applied",
    ]


def test_not_a_task_id_is_refused_before_anything_is_asked(capsys):
    assert trace.run(argparse.Namespace(task_id="parrot", json=False), get=None, token="t") == 1
    assert "not a task id" in capsys.readouterr().err


def test_nothing_published_says_so():
    assert (
        trace.render({"task_id": TASK, "events": [], "problems": []})
        == f"No service published anything about task {TASK}."
    )
