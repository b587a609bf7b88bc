"""The tracker, accounting, analytics and the notifier read every odd v1 title the same way
(issue 18). They used to hold three copies of the reader, which had drifted: "[UBERPOP-42] — " was
refused by the tracker, ('', 'UBERPOP-42') to accounting and ('[UBERPOP-42] —', None) to analytics.
Here each title goes through the tracker's rules and through the real handlers of the consumers,
into their databases."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from accounting.handlers import handlers as accounting_handlers
from accounting.models import inbox as accounting_inbox
from accounting.models import tasks as accounting_tasks
from analytics.handlers import handlers as analytics_handlers
from analytics.models import inbox as analytics_inbox
from analytics.models import task_details
from ates import migrations
from ates.bus import Event, Inbox
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from notifier.handlers import handlers as notifier_handlers
from notifier.models import inbox as notifier_inbox
from notifier.models import tasks as notifier_tasks
from tests.handed_in import handed_in
from tests.unit.test_task_titles import ODD_TITLES
from tracker import domain as tracker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def consumers(tmp_path_factory):
    found = {}
    for name, handlers, inbox in (
        ("accounting", accounting_handlers, accounting_inbox),
        ("analytics", analytics_handlers, analytics_inbox),
        ("notifier", notifier_handlers, notifier_inbox),
    ):
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / name}.db"
        migrations.upgrade(ROOT / name / "migrations", url)
        uow = UnitOfWork(make_engine(url))
        found[name] = (uow, Inbox(inbox, uow, handlers, handed_in(name)))
    return found


def created_v1(text: str) -> Event:
    message = Event(
        "task.created",
        1,
        "/tracker",
        {
            "task_id": str(uuid.uuid4()),
            "title": text,
            "description": "",
            "status": "open",
            "assignee_id": str(uuid.uuid4()),
            "created_at": "2026-12-02T10:00:00Z",
        },
    ).to_message()
    return Event.from_message(message)


def read(consumers, name: str, table, event: Event) -> tuple[str, str | None]:
    uow, inbox = consumers[name]
    assert [outcome.action for outcome in inbox.apply([event])] == ["ack"]
    with uow.read() as session:
        row = session.execute(
            select(table.c.title, table.c.jira_id).where(table.c.task_id == event.data["task_id"])
        ).one()
    return row.title, row.jira_id


@pytest.mark.parametrize("text, expected", ODD_TITLES)
def test_the_tracker_and_both_consumers_agree_on_every_odd_title(consumers, text, expected):
    try:
        assert tracker.title_and_jira_id(text, None) == expected
    except tracker.InvalidTask:
        pass  # the tracker may refuse what it would never publish (no title, brackets in it)
    event = created_v1(text)
    assert read(consumers, "accounting", accounting_tasks, event) == expected
    assert read(consumers, "analytics", task_details, event) == expected
    assert read(consumers, "notifier", notifier_tasks, event) == expected
