"""The tracker's use cases on a real (SQLite) database, migrated as in production."""

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from ates import migrations
from ates.bus import Event
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from tests.databases import statements_sent
from tracker import domain, reassigning, service
from tracker.handlers import handlers
from tracker.models import accounts, outbox, tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def uow(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrations.upgrade(ROOT / "tracker" / "migrations", url)
    engine = make_engine(url)
    yield UnitOfWork(engine)
    engine.dispose()


def add_account(uow, role="developer", active=True) -> str:
    account_id = str(uuid.uuid4())
    with uow.begin() as session:
        session.execute(
            insert(accounts).values(
                account_id=account_id,
                username=f"popug-{account_id[:6]}",
                role=role,
                active=active,
                assignable=domain.is_assignable(role, active),
                version=1,
            )
        )
    return account_id


def published(uow, event_type=None) -> list[dict]:
    with uow.read() as session:
        bodies = session.scalars(select(outbox.c.body).order_by(outbox.c.id))
        messages = [json.loads(body) for body in bodies]
    return [m for m in messages if event_type is None or m["type"] == event_type]


def test_a_new_task_goes_to_an_assignable_popug_and_says_so_in_events(uow):
    admin, manager = add_account(uow, "admin"), add_account(uow, "manager")
    add_account(uow, "developer", active=False)
    developer = add_account(uow, "developer")
    with uow.begin() as session:
        task = service.create_task(session, admin, "[UBERPOP-42] — Change the green", "paint it")
    assert task["assignee_id"] == developer
    assert (task["title"], task["jira_id"], task["status"]) == (
        "Change the green",
        "UBERPOP-42",
        "open",
    )
    types = [(m["type"], m["dataversion"]) for m in published(uow)]
    assert types == [("task.created", 2), ("task.created", 1), ("task.assigned", 1)]
    assert published(uow, "task.created")[1]["data"]["title"] == "[UBERPOP-42] — Change the green"
    assigned = published(uow, "task.assigned")[0]["data"]
    assert (assigned["previous_assignee_id"], assigned["reassignment_id"]) == (None, None)
    assert manager not in {task["assignee_id"]}


def test_creating_a_task_reads_the_accounts_once_and_names_the_assignee(uow):
    """POST /api/tasks answers with the assignee's names: they come from the read that finds who
    can be assigned, not from a second SELECT on the request's hot path."""
    developer = add_account(uow, "developer")
    with statements_sent(uow.engine) as sent, uow.begin() as session:
        task = service.create_task(session, developer, "Feed the parrots")
    assert task["assignee"]["account_id"] == developer
    assert task["assignee"]["username"] == f"popug-{developer[:6]}"
    assert task["assignee"]["role"] == "developer" and task["assignee"]["active"] is True
    selects = [statement for statement in sent if statement.lstrip().startswith("SELECT")]
    assert len(selects) == 1 and "FROM accounts" in selects[0], selects


def test_creating_a_task_with_nobody_assignable_stores_nothing(uow):
    add_account(uow, "admin")
    with pytest.raises(domain.NoAssignee), uow.begin() as session:
        service.create_task(session, "someone", "Feed the parrots")
    with uow.read() as session:
        assert session.execute(select(tasks)).first() is None
    assert published(uow) == []


def test_second_completion_is_rejected_and_only_the_assignee_completes(uow):
    popug = add_account(uow)
    with uow.begin() as session:
        task = service.create_task(session, popug, "Feed the parrots")
    with pytest.raises(domain.NotYourTask), uow.begin() as session:
        service.complete_task(session, str(uuid.uuid4()), task["task_id"])
    with uow.begin() as session:
        done = service.complete_task(session, popug, task["task_id"])
    assert (done["status"], done["version"]) == ("done", 2) and done["completed_at"] is not None
    with pytest.raises(domain.AlreadyDone), uow.begin() as session:
        service.complete_task(session, popug, task["task_id"])
    assert len(published(uow, "task.completed")) == 1
    with uow.read() as session:
        kinds = [entry["kind"] for entry in service.task_activity_log(session, task["task_id"])]
    assert kinds == ["created", "assigned", "completed"]


def make_open_tasks(uow, count, popugs):
    with uow.begin() as session:
        return [
            service.create_task(session, popugs[0], f"task {n}")["task_id"] for n in range(count)
        ]


def test_reassignment_resumed_after_a_crash_assigns_each_task_once(uow):
    popugs = [add_account(uow) for _ in range(5)] + [add_account(uow, "manager")]
    task_ids = make_open_tasks(uow, 1200, popugs)
    with uow.begin() as session:
        service.complete_task(
            session, service.get_task(session, task_ids[0])["assignee_id"], task_ids[0]
        )
    with uow.begin() as session:
        job = reassigning.start_reassignment(session, popugs[-1])
    assert job["total"] == 1199
    with uow.begin() as session:
        assert reassigning.reassign_batch(session, job["reassignment_id"], batch_size=500)
    with pytest.raises(RuntimeError), uow.begin() as session:  # the worker dies mid-batch
        reassigning.reassign_batch(session, job["reassignment_id"], batch_size=500)
        raise RuntimeError("killed")
    while True:
        with uow.begin() as session:
            if not reassigning.reassign_batch(session, job["reassignment_id"], batch_size=500):
                break
    by_job = Counter(
        m["data"]["task_id"]
        for m in published(uow, "task.assigned")
        if m["data"]["reassignment_id"] == job["reassignment_id"]
    )
    assert set(by_job) == set(task_ids[1:]) and set(by_job.values()) == {1}
    with uow.read() as session:
        finished = reassigning.get_reassignment(session, job["reassignment_id"])
        assert service.get_task(session, task_ids[0])["status"] == "done"
    assert (finished["status"], finished["reassigned"]) == ("done", 1199)
    assignees = {m["data"]["assignee_id"] for m in published(uow, "task.assigned")}
    assert popugs[-1] not in assignees, "a manager is never assigned"


def test_two_reassignments_each_reassign_every_open_task_once(uow):
    popugs = [add_account(uow) for _ in range(3)]
    task_ids = make_open_tasks(uow, 300, popugs)
    with uow.begin() as session:
        first = reassigning.start_reassignment(session, popugs[0])["reassignment_id"]
        second = reassigning.start_reassignment(session, popugs[0])["reassignment_id"]
    pending = [first, second]
    while pending:  # interleave the two jobs batch by batch
        job = pending.pop(0)
        with uow.begin() as session:
            if reassigning.reassign_batch(session, job, batch_size=70):
                pending.append(job)
    counts = Counter(
        (m["data"]["reassignment_id"], m["data"]["task_id"])
        for m in published(uow, "task.assigned")
    )
    for job in (first, second):
        assert sorted(task for (j, task) in counts if j == job) == sorted(task_ids)
    assert set(counts.values()) == {1}


def account_event(event_type, account_id, version, **data):
    base = {"account_id": account_id, "version": version}
    if event_type in ("account.created", "account.updated"):
        base.update(
            username="kesha",
            email="kesha@uberpopug.example",
            full_name="Kesha",
            role=data.get("role", "developer"),
            active=data.get("active", True),
        )
    if event_type == "account.role_changed":
        base.update(role=data["role"], previous_role=data["previous_role"])
    return Event(event_type, 1, "/auth", base)


def test_an_older_account_snapshot_never_overwrites_a_newer_one(uow):
    account_id = str(uuid.uuid4())
    apply = lambda event: handlers.lookup(event.type, event.version)(session, event)  # noqa: E731
    with uow.begin() as session:
        apply(account_event("account.created", account_id, 1))
        apply(
            account_event(
                "account.role_changed", account_id, 3, role="manager", previous_role="developer"
            )
        )
        apply(account_event("account.updated", account_id, 2, role="developer"))
    with uow.read() as session:
        assert service.assignable_accounts(session) == []
        row = (
            session.execute(select(accounts).where(accounts.c.account_id == account_id))
            .mappings()
            .one()
        )
    assert (row["role"], row["version"]) == ("manager", 3)
    with uow.begin() as session:
        apply(
            account_event(
                "account.role_changed", account_id, 4, role="developer", previous_role="manager"
            )
        )
        assert service.assignable_accounts(session) == [account_id]
        apply(account_event("account.deactivated", account_id, 5))
        assert service.assignable_accounts(session) == []


def test_new_tasks_and_reassignments_spread_uniformly_over_the_popugs(uow):
    popugs = [add_account(uow) for _ in range(5)] + [add_account(uow, "admin")]
    with uow.begin() as session:
        created = Counter(
            service.create_task(session, popugs[-1], f"task {n}")["assignee_id"]
            for n in range(3000)
        )
        job = reassigning.start_reassignment(session, popugs[-1])["reassignment_id"]
        while reassigning.reassign_batch(session, job):
            pass
    reassigned = Counter(
        m["data"]["assignee_id"]
        for m in published(uow, "task.assigned")
        if m["data"]["reassignment_id"] == job
    )
    for counts in (created, reassigned):
        assert set(counts) == set(popugs[:5]), "every developer gets tasks, the admin none"
        expected = 3000 / 5
        chi_square = sum((count - expected) ** 2 / expected for count in counts.values())
        assert chi_square < 18.47, counts  # p = 0.001 for 4 degrees of freedom
