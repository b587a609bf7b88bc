"""The gateway's notices: the bell with the unread count on every page, the notices page (paged,
mark read, mark all), the mail settings form; rendered from the real notifier (its Flask app on a
real database, reached through the gateway's own API client)."""

import re

import pytest

from gateway.app import create_app as create_gateway
from notifier import reading, service, telling
from tests.apps import gateway_in_front_of, signed_in
from tests.notifier_story import deliver, working_day


@pytest.fixture
def notifier(service_app):
    return service_app("notifier")


@pytest.fixture
def day(notifier):
    story = working_day()
    uow = notifier.extensions["ates.uow"]
    deliver(uow, story.events)
    from datetime import timedelta

    from ates import clock

    service.flush_quiet_reassignments(
        uow, timedelta(seconds=1), clock.utcnow() + timedelta(minutes=1)
    )
    return story


@pytest.fixture
def gateway(notifier, monkeypatch):
    return gateway_in_front_of({"notifier": notifier}, monkeypatch, WTF_CSRF_ENABLED=False)


def bell(page: str) -> str | None:
    found = re.search(r'class="bell"[^>]*aria-label="([^"]*)"', page)
    return found and found.group(1)


def test_the_bell_counts_my_unread_notices_on_every_page(gateway, issuer, day):
    kesha = signed_in(gateway, issuer, "developer", day.ids["kesha"], "kesha")
    for path in ("/", "/notifications", "/notifications/settings"):
        page = kesha.get(path)
        assert page.status_code == 200, path
        assert bell(page.get_data(as_text=True)) == "Notices: 4 unread", path


def test_the_notices_page_shows_my_notices_and_marks_them_read(gateway, issuer, day):
    polly = signed_in(gateway, issuer, "manager", day.ids["polly"], "polly")
    page = polly.get("/notifications").get_data(as_text=True)
    assert "Reassignment: you got 1 task, lost 1 task" in page
    assert "New task for you: UBERPOP-2 Task 2 of polly" in page
    assert "balance carried \u2212$24.00" in page
    assert "Kesha" not in page  # only polly's own
    notice_id = re.search(r'id="notice-([0-9a-f-]+)"', page).group(1)
    marked = polly.post(f"/notifications/{notice_id}/read", data={})
    assert marked.status_code == 302
    assert bell(polly.get("/").get_data(as_text=True)) == "Notices: 2 unread"
    unread_page = polly.get("/notifications?unread=true").get_data(as_text=True)
    assert f"notice-{notice_id}" not in unread_page
    everything = polly.post("/notifications/read-all", follow_redirects=True).get_data(as_text=True)
    assert "2 notices marked read." in everything
    assert bell(everything) == "Notices"


def test_the_notices_page_pages_backwards(gateway, issuer, notifier):
    from tests.notifier_story import account_event

    popug = "00000000-0000-4000-8000-0000000000cc"
    uow = notifier.extensions["ates.uow"]
    deliver(uow, [account_event("account.created", popug, "rio")])
    with uow.begin() as session:
        for number in range(25):
            telling.tell(
                session,
                popug,
                "day_closed",
                f"day:{number}",
                {
                    "billing_date": f"2026-11-{number + 1:02d}",
                    "earned": "0.00",
                    "fees": "0.00",
                    "paid_out": "0.00",
                    "balance": "0.00",
                },
                service_now(),
            )
    rio = signed_in(gateway, issuer, "developer", popug, "rio")
    first = rio.get("/notifications").get_data(as_text=True)
    assert first.count('class="notice unread"') == 20 and "Your day 2026-11-25" in first
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = rio.get(older).get_data(as_text=True)
    assert second.count('class="notice unread"') == 5 and "Your day 2026-11-01" in second
    assert 'rel="next"' not in second


def service_now():
    from ates import clock

    return clock.utcnow()


def test_task_mail_can_be_turned_off_and_on(gateway, issuer, day, notifier):
    rio = signed_in(gateway, issuer, "developer", day.ids["rio"], "rio")
    assert "checked" in rio.get("/notifications/settings").get_data(as_text=True)
    off = rio.post("/notifications/settings", data={}, follow_redirects=True).get_data(as_text=True)
    assert "Task mail is off" in off and "checked" not in off
    with notifier.extensions["ates.uow"].read() as session:
        assert reading.mail_settings(session, day.ids["rio"]) == {
            "task_mail": False,
            "timezone": None,
        }
    on = rio.post("/notifications/settings", data={"task_mail": "on"}, follow_redirects=True)
    assert "Task mail is on." in on.get_data(as_text=True)


def test_a_popug_chooses_the_time_zone_its_pages_show_times_in(gateway, issuer, day):
    rio = signed_in(gateway, issuer, "developer", day.ids["rio"], "rio")
    assert re.search(r'class="when">\d{4}-\d\d-\d\d \d\d:\d\d UTC', rio.get("/notifications").text)
    moved = rio.post(
        "/notifications/settings",
        data={"task_mail": "on", "timezone": "Asia/Tokyo"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Times show in Asia/Tokyo." in moved and "<option selected>Asia/Tokyo</option>" in moved
    assert re.search(r'class="when">\d{4}-\d\d-\d\d \d\d:\d\d JST', rio.get("/notifications").text)
    nonsense = rio.post(
        "/notifications/settings", data={"timezone": "Mars/Olympus"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Nothing was changed: " in nonsense and "is not a time zone" in nonsense


def test_a_page_without_the_notifier_still_renders_without_a_count(issuer, day):
    app = create_gateway(config={"BACKEND_URLS": {"notifier": "http://127.0.0.1:9"}})
    kesha = signed_in(app, issuer, "developer", day.ids["kesha"], "kesha")
    page = kesha.get("/")
    assert page.status_code == 200 and bell(page.get_data(as_text=True)) == "Notices"
