"""The tracker's rules, free of I/O: titles and Jira ids, who may do what, who gets a task, and
the task itself, whose every change returns the events it causes (the service stores both)."""

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ates import text
from ates.rules import RuleBroken
from ates.task_titles import JIRA_ID, split_v1_title

TITLE_MAX = 200
NOT_ASSIGNABLE_ROLES = frozenset({"admin", "manager"})
MAY_SEE_ALL_AND_REASSIGN = frozenset({"admin", "manager"})


class InvalidTask(RuleBroken):
    code = "invalid_task"


class NoAssignee(RuleBroken):
    code, status = "no_assignee", 409


class NotYourTask(RuleBroken):
    code, status = "not_your_task", 403


class AlreadyDone(RuleBroken):
    code, status = "already_done", 409


def title_and_jira_id(title: str, jira_id: str | None) -> tuple[str, str | None]:
    """The stored (title, jira_id) of what a client sent, old "[JIRA-1] — title" form included."""
    for value, what in ((title, "the title"), (jira_id, "jira_id")):
        _refuse_unprintable(value or "", what)
    title = (title or "").strip()
    jira_id = (jira_id or "").strip() or None
    if (
        jira_id is None
    ):  # old clients put the Jira id in the title, as task.created v1 still carries it
        title, jira_id = split_v1_title(title)
    if jira_id is not None and not JIRA_ID.fullmatch(jira_id):
        raise InvalidTask(f"jira_id {jira_id!r} is not a Jira id such as UBERPOP-42")
    if not title:
        raise InvalidTask("a task needs a title")
    if len(title) > TITLE_MAX:
        raise InvalidTask(
            f"the title is {len(title)} characters long; at most {TITLE_MAX} are allowed"
        )
    if "[" in title or "]" in title:
        raise InvalidTask("the title may not contain [ or ]: put the Jira id in jira_id")
    return title, jira_id


def check_description(description: str) -> str:
    _refuse_unprintable(description, "the description", multiline=True)
    return description


def _refuse_unprintable(value: str, what: str, multiline: bool = False) -> None:
    reason = text.unprintable(value, what, multiline)
    if reason:
        raise InvalidTask(reason)


def is_assignable(role: str, active: bool) -> bool:
    return active and role not in NOT_ASSIGNABLE_ROLES


def choose_assignee(candidates: Sequence[str], randbelow=secrets.randbelow) -> str:
    """A uniformly random one of the assignable accounts."""
    if not candidates:
        raise NoAssignee(
            "there is no popug to assign the task to: every active account is an admin or a manager"
        )
    return candidates[randbelow(len(candidates))]


def check_may_complete(status: str, assignee_id: str, actor_id: str) -> None:
    if assignee_id != actor_id:
        raise NotYourTask("only the task's assignee may complete it")
    if status == "done":
        raise AlreadyDone("the task is already done")


def may_see_all_and_reassign(role: str) -> bool:
    return role in MAY_SEE_ALL_AND_REASSIGN


@dataclass
class Task:
    """A task as the tracker keeps it. Its methods are the only place its state and version
    change; each returns the events the change causes, in the order they are published."""

    task_id: str
    jira_id: str | None
    title: str
    description: str
    status: str  # "open" or "done"
    assignee_id: str
    created_at: datetime
    completed_at: datetime | None
    version: int

    @classmethod
    def create(
        cls,
        title: str,
        description: str,
        jira_id: str | None,
        candidates: Sequence[str],
        at: datetime,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> tuple["Task", list["TaskEvent"]]:
        """A new open task, checked, and assigned to a random one of `candidates`."""
        title, jira_id = title_and_jira_id(title, jira_id)
        task = cls(
            task_id=str(uuid.uuid4()),
            jira_id=jira_id,
            title=title,
            description=check_description(description or ""),
            status="open",
            assignee_id=choose_assignee(candidates, randbelow),
            created_at=at,
            completed_at=None,
            version=1,
        )
        now = task.copy()  # both events tell the same moment
        return task, [TaskCreated(now), TaskAssigned(now, None, None, at)]

    def complete(self, actor_id: str, at: datetime) -> list["TaskEvent"]:
        """Done, by its assignee only, once."""
        check_may_complete(self.status, self.assignee_id, actor_id)
        self.status, self.completed_at, self.version = "done", at, self.version + 1
        now = self.copy()  # both events tell the same moment
        return [TaskCompleted(now), TaskUpdated(now)]

    def assign_to(
        self, assignee_id: str, at: datetime, reassignment_id: str | None = None
    ) -> list["TaskEvent"]:
        """Another (or the same) popug's now: every assignment counts, and costs its fee."""
        previous = self.assignee_id
        self.assignee_id, self.version = assignee_id, self.version + 1
        now = self.copy()  # both events tell the same moment
        return [TaskAssigned(now, previous, reassignment_id, at), TaskUpdated(now)]

    def copy(self) -> "Task":
        return replace(self)


@dataclass(frozen=True)
class TaskCreated:
    task: Task


@dataclass(frozen=True)
class TaskAssigned:
    task: Task
    previous_assignee_id: str | None
    reassignment_id: str | None
    at: datetime


@dataclass(frozen=True)
class TaskCompleted:
    task: Task


@dataclass(frozen=True)
class TaskUpdated:
    task: Task


TaskEvent = TaskCreated | TaskAssigned | TaskCompleted | TaskUpdated
