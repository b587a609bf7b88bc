"""A form sent twice (a double click, a browser's retry) is done once: the gateway puts a fresh
Idempotency-Key in every form that writes and sends it on (gateway/api_client.py), the tracker
answers the second with the first answer (ates/idempotency.py)."""

import re

from sqlalchemy import func, select

from tests.apps import gateway_in_front_of, signed_in, tracker_accounts
from tracker.models import tasks


def test_a_create_form_sent_twice_makes_one_task_and_a_new_page_a_new_key(
    service_app, issuer, monkeypatch
):
    tracker = service_app("tracker")
    popugs = tracker_accounts(tracker, ["developer", "manager"])
    gateway = gateway_in_front_of({"tracker": tracker}, monkeypatch, WTF_CSRF_ENABLED=False)
    manager = signed_in(gateway, issuer, "manager", popugs["manager"])
    page = manager.get("/tasks").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page).group(1)
    form = {"title": "Clean the perch", "jira_id": "UBERPOP-9", "idempotency_key": key}
    for _ in range(2):
        answer = manager.post("/tasks", data=form, follow_redirects=True)
        assert "created and assigned" in answer.get_data(as_text=True)
    with tracker.extensions["ates.uow"].read() as session:
        assert session.scalar(select(func.count()).select_from(tasks)) == 1
    again = manager.get("/tasks").get_data(as_text=True)
    assert key not in again  # a page rendered anew carries a new key: a new task is a new request
    new_key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', again).group(1)
    manager.post("/tasks", data={**form, "idempotency_key": new_key})
    with tracker.extensions["ates.uow"].read() as session:
        assert session.scalar(select(func.count()).select_from(tasks)) == 2
