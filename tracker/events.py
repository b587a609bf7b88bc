"""The events the tracker publishes (SPEC §5), made from what its domain says happened."""

from ates.bus import Event
from ates.task_titles import v1_title
from tracker.domain import Task, TaskAssigned, TaskCompleted, TaskCreated, TaskEvent, TaskUpdated

SOURCE = "/tracker"


def on_the_wire(happened: list[TaskEvent]) -> list[Event]:
    """The wire events of what happened, in order; a creation also goes out in the v1 shape."""
    published: list[Event] = []
    for event in happened:
        if isinstance(event, TaskCreated):
            published += [task_snapshot(event.task, "task.created"), task_created_v1(event.task)]
        elif isinstance(event, TaskAssigned):
            published.append(
                task_assigned(
                    event.task, event.previous_assignee_id, event.reassignment_id, event.at
                )
            )
        elif isinstance(event, TaskCompleted):
            published.append(task_completed(event.task))
        elif isinstance(event, TaskUpdated):
            published.append(task_snapshot(event.task))
    return published


def task_snapshot(task: Task, event_type: str = "task.updated") -> Event:
    """task.created v2 or task.updated v2: the whole task as it is now."""
    return Event(
        event_type,
        2,
        SOURCE,
        {
            "task_id": task.task_id,
            "jira_id": task.jira_id,
            "title": task.title,
            "description": task.description,
            "status": task.status,
            "assignee_id": task.assignee_id,
            "created_at": task.created_at,
            "completed_at": task.completed_at,
            "version": task.version,
        },
    )


def task_created_v1(task: Task) -> Event:
    """The v1 shape, for consumers that have not moved to v2 yet: the Jira id lives in the title."""
    return Event(
        "task.created",
        1,
        SOURCE,
        {
            "task_id": task.task_id,
            "title": v1_title(task.title, task.jira_id),
            "description": task.description,
            "status": task.status,
            "assignee_id": task.assignee_id,
            "created_at": task.created_at,
        },
    )


def task_assigned(
    task: Task, previous_assignee_id: str | None, reassignment_id: str | None, at
) -> Event:
    return Event(
        "task.assigned",
        1,
        SOURCE,
        {
            "task_id": task.task_id,
            "assignee_id": task.assignee_id,
            "previous_assignee_id": previous_assignee_id,
            "assigned_at": at,
            "reassignment_id": reassignment_id,
        },
    )


def task_completed(task: Task) -> Event:
    return Event(
        "task.completed",
        1,
        SOURCE,
        {
            "task_id": task.task_id,
            "assignee_id": task.assignee_id,
            "completed_at": task.completed_at,
        },
    )
