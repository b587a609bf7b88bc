"""The gateway's task pages on the real tracker and accounting apps (in process): people by name,
tasks linked to their own page with activity, fee and reward, filters and pages that stay put, the
words after every action, and the reassignment's progress as JSON for the page's script."""

import re
from decimal import Decimal

import pytest

from accounting import domain
from gateway import tasks as task_pages
from tests.apps import gateway_in_front_of, signed_in, tracker_accounts
from tests.integration.accounting_fixtures import AccountingDb, task_assigned


@pytest.fixture
def backends(service_app, monkeypatch):
    monkeypatch.setattr(
        domain, "draw_price", lambda *args: domain.Price(Decimal("12.00"), Decimal("31.00"))
    )
    return {"tracker": service_app("tracker"), "accounting": service_app("accounting")}


@pytest.fixture
def popugs(backends):
    """An admin, a manager and two developers: the developers get every task."""
    return tracker_accounts(backends["tracker"], ["admin", "manager", "developer", "boss"])


@pytest.fixture
def gateway(backends, monkeypatch):
    return gateway_in_front_of(backends, monkeypatch)


def form_of(html: str, action: str) -> dict:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, f"no form to {action}"
    return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(0)))


def create(client, title: str, jira_id: str = "") -> str:
    form = form_of(client.get("/tasks").get_data(as_text=True), "/tasks")
    answer = client.post(
        "/tasks", data={**form, "title": title, "jira_id": jira_id}, follow_redirects=True
    )
    return answer.get_data(as_text=True)


def test_a_new_task_is_announced_with_its_jira_id_and_its_assignees_name(gateway, issuer, popugs):
    manager = signed_in(gateway, issuer, "manager", popugs["manager"])
    html = create(manager, "Paint the perch", "UBERPOP-42")
    said = re.search(r'<p class="flash info" role="status">(.*?)</p>', html).group(1)
    assert said in {
        "Task UBERPOP-42 Paint the perch created and assigned to Developer Popug.",
        "Task UBERPOP-42 Paint the perch created and assigned to Boss Popug.",
    }, said
    refused = create(manager, "")
    assert 'class="flash error" role="alert">The task was not created: ' in refused


def test_every_task_by_name_filtered_by_assignee_a_page_at_a_time(
    gateway, issuer, popugs, monkeypatch
):
    monkeypatch.setattr(task_pages, "PAGE", 2)
    manager = signed_in(gateway, issuer, "manager", popugs["manager"])
    for n in range(5):
        create(manager, f"task {n}")
    html = manager.get("/tasks/all").get_data(as_text=True)
    table = re.search(r'<table id="all-tasks">.*?</table>', html, re.S).group(0)
    assert table.count("<tr>") == 3 and "task 4" in table and "task 3" in table
    assert re.search(r'<span class="person" title="(developer|boss)">(Developer|Boss) Popug', table)
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", re.sub(r'href="[^"]*"', "", table))
    older = re.search(r'<a rel="next" href="([^"]+)">Older tasks', html).group(1)
    create(manager, "task 5")  # a newcomer shifts no page
    second = manager.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert "task 2" in second and "task 1" in second and "task 5" not in second

    developer = popugs["developer"]
    theirs = manager.get(f"/tasks/all?assignee={developer}&status=open").get_data(as_text=True)
    assert f'<option value="{developer}" selected>Developer Popug (developer)</option>' in theirs
    assert (
        "Boss Popug</span>" not in re.search(r'<table id="all-tasks">.*?</table>', theirs, re.S)[0]
    )
    nonsense = manager.get("/tasks/all?assignee=<script>&status=maybe&before=x")
    assert nonsense.status_code == 200  # the nonsense is left out, the page still shows


def test_a_tasks_page_has_its_activity_its_assignees_its_fee_and_reward(
    gateway, issuer, popugs, backends
):
    manager = signed_in(gateway, issuer, "manager", popugs["manager"])
    create(manager, "Feed the parrots", "UBERPOP-7")
    listed = manager.get("/tasks/all").get_data(as_text=True)
    task_id, assignee = re.search(
        r'href="/tasks/([0-9a-f-]{36})"[^>]*>UBERPOP-7 Feed the parrots</a>.*?title="(\w+)"',
        listed,
        re.S,
    ).groups()
    page = manager.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "<h2>UBERPOP-7 Feed the parrots</h2>" in page and "not known here yet" in page
    db = AccountingDb(backends["accounting"].config["ATES"].database_url)
    db.apply(task_assigned(task_id, popugs[assignee]))  # accounting priced it on assignment
    db.dispose()
    page = manager.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'id="assign-fee">\$12\.00<', page) and re.search(
        r'id="reward">\$31\.00', page
    )
    activity = re.search(r'<table id="activity".*?</table>', page, re.S).group(0)
    assert "created by" in activity and "Manager Popug" in activity and "assigned to" in activity
    assert f"{assignee.title()} Popug" in re.search(r'<ol id="assignees".*?</ol>', page, re.S)[0]
    assert manager.get("/tasks/not-a-task").status_code == 404


def test_the_reassignment_is_announced_and_its_progress_can_be_polled(gateway, issuer, popugs):
    manager = signed_in(gateway, issuer, "manager", popugs["manager"])
    for n in range(3):
        create(manager, f"task {n}")
    page = manager.get("/tasks/reassign").get_data(as_text=True)
    answer = manager.post(
        "/tasks/reassign", data=form_of(page, "/tasks/reassign"), follow_redirects=True
    )
    html = answer.get_data(as_text=True)
    assert "Reassignment started: 0 / 3 open tasks." in html
    url = re.search(r'data-progress-url="([^"]+)"', html).group(1)
    progress = manager.get(url)
    assert progress.status_code == 200 and progress.json["total"] == 3
    assert progress.json["status"] == "running" and progress.json["reassigned"] == 0
    assert '<noscript><meta http-equiv="refresh"' in html and "reassign.js" in html
    developer = signed_in(gateway, issuer, "developer", popugs["developer"])
    assert developer.get(url).status_code == 403
