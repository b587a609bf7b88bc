"""The tracker's Task: each change checks its rule, moves the version once and returns its events."""

from datetime import UTC, datetime

import pytest

from tracker import events
from tracker.domain import (
    AlreadyDone,
    InvalidTask,
    NoAssignee,
    NotYourTask,
    Task,
    TaskAssigned,
    TaskCompleted,
    TaskCreated,
    TaskUpdated,
)

AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
KESHA, POPKA = "0b7c6d1e-0000-4000-8000-00000000000a", "0b7c6d1e-0000-4000-8000-00000000000b"


def new_task(candidates=(KESHA,), title="[UBERPOP-42] — Change the green") -> tuple[Task, list]:
    return Task.create(title, "paint it", None, list(candidates), AT, randbelow=lambda n: 0)


def test_a_new_task_is_open_at_version_1_with_its_jira_id_split_off_and_says_created_then_assigned():
    task, happened = new_task()
    assert (task.title, task.jira_id) == ("Change the green", "UBERPOP-42")
    assert (task.status, task.version) == ("open", 1)
    assert (task.assignee_id, task.created_at, task.completed_at) == (KESHA, AT, None)
    assert [type(event) for event in happened] == [TaskCreated, TaskAssigned]
    assert happened[1] == TaskAssigned(task, None, None, AT)


def test_a_new_task_goes_to_the_candidate_the_draw_picks():
    task, _ = Task.create("Feed", "", None, [KESHA, POPKA], AT, randbelow=lambda n: n - 1)
    assert task.assignee_id == POPKA


@pytest.mark.parametrize(
    ("candidates", "title", "refused"),
    [
        ([], "Feed the parrots", NoAssignee),
        ([KESHA], "", InvalidTask),
        ([KESHA], "[not a Jira id] and more", InvalidTask),
    ],
)
def test_a_task_the_rules_refuse_is_not_made(candidates, title, refused):
    with pytest.raises(refused):
        Task.create(title, "", None, candidates, AT)


def test_completing_moves_the_version_once_and_says_completed_then_updated():
    task, _ = new_task()
    happened = task.complete(KESHA, LATER)
    assert (task.status, task.completed_at, task.version) == ("done", LATER, 2)
    assert [type(event) for event in happened] == [TaskCompleted, TaskUpdated]
    assert all(event.task == task for event in happened)


@pytest.mark.parametrize(("actor", "refused"), [(POPKA, NotYourTask), (KESHA, AlreadyDone)])
def test_only_the_assignee_completes_and_only_once(actor, refused):
    task, _ = new_task()
    if refused is AlreadyDone:
        task.complete(KESHA, LATER)
    before = task.copy()
    with pytest.raises(refused):
        task.complete(actor, LATER)
    assert task == before  # a refused change changes nothing


def test_an_assignment_names_the_previous_assignee_and_the_job_and_moves_the_version():
    task, _ = new_task()
    happened = task.assign_to(POPKA, LATER, "job-1")
    assert (task.assignee_id, task.version) == (POPKA, 2)
    assert happened == [TaskAssigned(task, KESHA, "job-1", LATER), TaskUpdated(task)]
    again = task.assign_to(POPKA, LATER, "job-2")  # the same popug again is an assignment too
    assert task.version == 3 and again[0].previous_assignee_id == POPKA


def test_an_event_keeps_the_task_as_it_was_when_it_happened():
    task, created = new_task()
    task.assign_to(POPKA, LATER)
    assert created[0].task.assignee_id == KESHA and created[0].task.version == 1


def test_on_the_wire_a_creation_is_v2_then_v1_then_the_assignment():
    task, happened = new_task()
    wire = events.on_the_wire(happened)
    assert [(event.type, event.version) for event in wire] == [
        ("task.created", 2),
        ("task.created", 1),
        ("task.assigned", 1),
    ]
    assert wire[1].data["title"] == "[UBERPOP-42] — Change the green"
    completed = events.on_the_wire(task.complete(KESHA, LATER))
    kinds = [(event.type, event.version) for event in completed]
    assert kinds == [("task.completed", 1), ("task.updated", 2)]
    assert completed[1].data["version"] == 2 and completed[1].data["status"] == "done"
