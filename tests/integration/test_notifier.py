"""The notifier's rules on its own database, events applied through its inbox as its consumer does:
every kind of notice, shuffled and doubled deliveries, reassignment grouping (also of a job cut in
two), who gets nothing, and the REST API every role uses for its own notices."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from ates import clock
from mailsink import stored_mails, subject_of
from notifier import reading, service
from notifier.mailer import Mailer
from notifier.models import accounts, mails, notices, reassignment_changes, tasks
from tests.analytics_events import task_created_v2, task_priced, task_updated
from tests.databases import statements_sent
from tests.integration.conftest import free_port
from tests.notifier_story import (
    DAY,
    START,
    account_event,
    assigned,
    deliver,
    shuffled_with_duplicates,
    working_day,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, app_on):
    """Every rule twice: on SQLite (development) and on PostgreSQL (production), whose
    `ON CONFLICT` statements and row locks are not SQLite's."""
    return app_on(request.param, "notifier")


@pytest.fixture
def uow(app):
    return app.extensions["ates.uow"]


def told(uow, story) -> Counter:
    """(popug, kind, what) of every notice, as the story names them."""
    names = {account_id: name for name, account_id in story.ids.items()}
    with uow.read() as session:
        rows = session.execute(select(notices)).mappings().all()
    found = Counter()
    for row in rows:
        what = {
            "task_assigned": lambda f: f["task_id"],
            "task_completed": lambda f: f["task_id"],
            "reassignment": lambda f: f["reassignment_id"],
            "day_closed": lambda f: f["billing_date"],
        }[row["kind"]](row["facts"])
        found[(names[row["account_id"]], row["kind"], what)] += 1
    return found


def mailed(uow) -> Counter:
    """(address, subject) of every mail waiting to be sent, in the words it would go with."""
    with uow.read() as session:
        rows = session.execute(
            select(notices, accounts.c.email, accounts.c.full_name)
            .join(mails, mails.c.notice_id == notices.c.notice_id)
            .join(accounts, accounts.c.account_id == notices.c.account_id)
        ).mappings()
        return Counter(
            (row["email"], reading.shown(session, row, account=row)["subject"]) for row in rows
        )


def flush(uow, quiet=timedelta(seconds=5), later=timedelta(minutes=1)) -> int:
    return service.flush_quiet_reassignments(uow, quiet, clock.utcnow() + later)


def test_a_working_day_tells_every_popug_what_happened_to_them_once(uow):
    story = working_day()
    deliver(uow, story.events)
    assert flush(uow) == 4
    assert told(uow, story) == story.notices
    assert mailed(uow) == story.mails


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffled_and_doubled_deliveries_give_the_same_notices_and_mails(uow, seed):
    story = working_day()
    retried = deliver(uow, shuffled_with_duplicates(story.events, seed))
    assert retried > 0  # some came before what they need, and waited
    flush(uow)
    assert told(uow, story) == story.notices
    assert mailed(uow) == story.mails


def test_the_words_of_a_notice_fill_in_a_price_that_arrives_later(uow):
    kesha = account_event("account.created", "00000000-0000-4000-8000-00000000000a", "kesha")
    task_id = "00000000-0000-4000-8000-0000000000aa"
    deliver(
        uow, [kesha, task_created_v2(task_id, "Feed", "UBERPOP-7", START, kesha.data["account_id"])]
    )
    deliver(uow, [assigned(task_id, kesha.data["account_id"], None, START)])
    with uow.read() as session:
        notice = session.execute(select(notices)).mappings().one()
        before = reading.shown(session, notice)
    assert not before["complete"] and "being worked out" in before["body"]
    deliver(uow, [task_priced(task_id, clock_money("12.00"), clock_money("31.00"), START)])
    with uow.read() as session:
        after = reading.shown(session, notice)
    assert after["complete"] and "$12.00" in after["body"] and "$31.00" in after["body"]


def clock_money(text):
    from decimal import Decimal

    return Decimal(text)


def test_a_reassignment_of_10000_tasks_over_100_popugs_makes_100_notices(uow):
    popugs = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]
    deliver(uow, [account_event("account.created", p, f"popug{n}") for n, p in enumerate(popugs)])
    task_ids = [f"10000000-0000-4000-8000-{n:012d}" for n in range(10_000)]
    with uow.begin() as session:
        from notifier.models import tasks

        session.execute(
            tasks.insert(),
            [
                {"task_id": t, "jira_id": None, "title": f"task {n}", "details_version": 1}
                for n, t in enumerate(task_ids)
            ],
        )
    job = "20000000-0000-4000-8000-000000000000"
    events = [
        assigned(t, popugs[(n + 1) % 100], popugs[n % 100], START, job)
        for n, t in enumerate(task_ids)
    ]
    deliver(uow, events)
    assert flush(uow) == 100
    with uow.read() as session:
        rows = session.execute(select(notices.c.facts)).scalars().all()
        waiting = session.scalar(
            select(func.count()).where(reassignment_changes.c.notice_id.is_(None))
        )
    assert len(rows) == 100 and waiting == 0
    assert all(len(f["got"]) == 100 and len(f["lost"]) == 100 for f in rows)
    assert sorted(t for f in rows for t in f["got"]) == sorted(task_ids)
    assert flush(uow) == 0  # nothing twice


def test_a_reassigned_task_costs_the_notifier_four_statements(uow):
    """A job's task.assigned and task.updated for a task and popugs the notifier knows: the title
    looked up, both popugs in one look, both moves in one insert, the snapshot's words in one
    upsert (7 and 2 when each write was looked up first: bench.notifier). A redelivery under
    another event id (a producer that published twice) changes nothing."""
    kesha, chirp = (
        account_event("account.created", f"00000000-0000-4000-8000-00000000000{n}", name)
        for n, name in enumerate(["kesha", "chirp"])
    )
    task_id, job = "00000000-0000-4000-8000-0000000000aa", "20000000-0000-4000-8000-000000000000"
    ids = kesha.data["account_id"], chirp.data["account_id"]
    deliver(uow, [kesha, chirp, task_created_v2(task_id, "Feed", None, START, ids[0])])
    moved = [
        assigned(task_id, ids[1], ids[0], START, job),
        task_updated(task_id, "Feed", None, START, ids[1], version=2),
    ]
    with statements_sent(uow.engine) as sent:
        deliver(uow, moved)
    own = [s for s in sent if "inbox" not in s and not s.startswith(("BEGIN", "SAVEPOINT"))]
    assert len(own) == 4, own
    deliver(uow, [assigned(task_id, ids[1], ids[0], START, job)])  # a new event id, same move
    with uow.read() as session:
        rows = session.execute(select(reassignment_changes)).mappings().all()
    assert sorted((r["account_id"], r["change"]) for r in rows) == [
        (ids[0], "lost"),
        (ids[1], "got"),
    ]


def test_older_task_words_never_overwrite_newer_ones_and_a_price_keeps_them(uow):
    task_id = "00000000-0000-4000-8000-0000000000bb"
    deliver(uow, [task_priced(task_id, clock_money("12.00"), clock_money("31.00"), START)])
    deliver(uow, [task_updated(task_id, "Newer", "UBERPOP-2", START, task_id, version=3)])
    deliver(uow, [task_updated(task_id, "Older", "UBERPOP-1", START, task_id, version=2)])
    deliver(uow, [task_priced(task_id, clock_money("13.00"), clock_money("32.00"), START)])
    with uow.read() as session:
        row = session.execute(select(tasks).where(tasks.c.task_id == task_id)).mappings().one()
    assert (row["title"], row["jira_id"], row["details_version"]) == ("Newer", "UBERPOP-2", 3)
    assert (row["assign_fee"], row["completion_reward"]) == (Decimal("13.00"), Decimal("32.00"))


def job_events(popugs, task_ids, job):
    return [assigned(t, popugs[1], popugs[0], START, job) for t in task_ids]


def test_a_job_cut_in_two_for_longer_than_the_quiet_time_tells_the_rest_as_continued(uow):
    popugs = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    deliver(uow, [account_event("account.created", p, f"popug{n}") for n, p in enumerate(popugs)])
    task_ids = [f"10000000-0000-4000-8000-{n:012d}" for n in range(10)]
    deliver(
        uow,
        [task_created_v2(t, f"task {n}", None, START, popugs[0]) for n, t in enumerate(task_ids)],
    )
    job = "20000000-0000-4000-8000-000000000001"
    deliver(uow, job_events(popugs, task_ids[:6], job))
    assert flush(uow) == 2  # the worker was killed: the job went quiet after 6 tasks
    deliver(uow, job_events(popugs, task_ids[6:], job))  # ... and went on after its restart
    assert flush(uow) == 2
    with uow.read() as session:
        rows = session.execute(select(notices).order_by(notices.c.id)).mappings().all()
    by_popug = {p: [r["facts"] for r in rows if r["account_id"] == p] for p in popugs}
    assert [f["part"] for f in by_popug[popugs[1]]] == [1, 2]
    assert [len(f["got"]) for f in by_popug[popugs[1]]] == [6, 4]
    assert sorted(t for f in by_popug[popugs[1]] for t in f["got"]) == sorted(task_ids)
    with uow.read() as session:
        subjects = [reading.shown(session, r)["subject"] for r in rows]
    assert "Reassignment (continued): you got 4 tasks" in subjects


def test_a_job_paused_for_less_than_the_quiet_time_is_one_notice(uow):
    popugs = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    deliver(uow, [account_event("account.created", p, f"popug{n}") for n, p in enumerate(popugs)])
    task_ids = [f"10000000-0000-4000-8000-{n:012d}" for n in range(10)]
    deliver(
        uow,
        [task_created_v2(t, f"task {n}", None, START, popugs[0]) for n, t in enumerate(task_ids)],
    )
    job = "20000000-0000-4000-8000-000000000002"
    deliver(uow, job_events(popugs, task_ids[:6], job))
    assert flush(uow, later=timedelta(seconds=1)) == 0  # not quiet long enough yet
    deliver(uow, job_events(popugs, task_ids[6:], job))
    assert flush(uow) == 2
    with uow.read() as session:
        assert session.scalar(select(func.count()).select_from(notices)) == 2


def test_an_inactive_popug_gets_nothing_and_a_deactivated_one_no_more_mail(uow):
    story = working_day()
    zazu = story.ids["zazu"]
    deactivated = account_event("account.deactivated", zazu, "zazu", version=2)
    first_half = [
        e for e in story.events if e.type in ("account.created", "task.created", "task.priced")
    ]
    deliver(uow, first_half)
    deliver(
        uow,
        [
            e
            for e in story.events
            if e.type == "task.assigned" and e.data["reassignment_id"] is None
        ],
    )
    with uow.read() as session:
        pending_for_zazu = session.scalar(
            select(func.count())
            .select_from(mails.join(notices, notices.c.notice_id == mails.c.notice_id))
            .where(notices.c.account_id == zazu)
        )
    assert pending_for_zazu == 1
    deliver(uow, [deactivated])
    deliver(uow, [e for e in story.events if e not in first_half])
    flush(uow)
    found = told(uow, story)
    assert [k for k in found if k[0] == "zazu"] == [
        ("zazu", "task_assigned", k[2]) for k in found if k[0] == "zazu"
    ]
    assert ("zazu", "day_closed", DAY.isoformat()) not in found
    assert ("kesha", "day_closed", DAY.isoformat()) in found


def test_a_notice_about_a_task_not_seen_yet_waits(uow):
    kesha = account_event("account.created", "00000000-0000-4000-8000-00000000000a", "kesha")
    deliver(uow, [kesha])
    from tests.notifier_story import notifier_inbox

    task_id = "00000000-0000-4000-8000-0000000000ab"
    outcome = notifier_inbox(uow).apply([assigned(task_id, kesha.data["account_id"], None, START)])[
        0
    ]
    assert outcome.action == "retry" and "title has not arrived" in outcome.reason


def test_task_mail_off_keeps_the_notice_and_the_end_of_day_mail(uow):
    story = working_day()
    deliver(uow, [e for e in story.events if e.type == "account.created"])
    with uow.begin() as session:
        reading.change_mail_settings(session, story.ids["polly"], False, None, clock.utcnow())
    deliver(uow, story.events)
    flush(uow)
    assert told(uow, story) == story.notices
    polly_mails = {s for (a, s) in mailed(uow) if a.startswith("polly@")}
    assert len(polly_mails) == 1 and next(iter(polly_mails)).startswith("Your day")


# --- the REST API ---------------------------------------------------------------------------


@pytest.fixture
def day(uow):
    story = working_day()
    deliver(uow, story.events)
    flush(uow)
    return story


def test_a_popug_reads_its_own_notices_a_page_at_a_time(app, issuer, day):
    client = app.test_client()
    kesha = issuer.headers(day.ids["kesha"], "developer")
    first = client.get("/api/me/notifications?limit=2", headers=kesha)
    assert first.status_code == 200, first.json
    assert len(first.json["notifications"]) == 2 and first.json["unread"] == 4
    second = client.get(f"/api/me/notifications?limit=2&before={first.json['next']}", headers=kesha)
    assert len(second.json["notifications"]) == 2 and second.json["next"] is None
    seen = [n["kind"] for n in first.json["notifications"] + second.json["notifications"]]
    assert sorted(seen) == ["day_closed", "reassignment", "task_assigned", "task_completed"]
    newest = first.json["notifications"][0]
    assert newest["subject"].startswith("Reassignment") and newest["read"] is False


def test_marking_read_is_for_ones_own_notices_only(app, issuer, day):
    client = app.test_client()
    kesha = issuer.headers(day.ids["kesha"], "developer")
    polly = issuer.headers(day.ids["polly"], "manager")
    notice = client.get("/api/me/notifications", headers=kesha).json["notifications"][0]
    refused = client.post(f"/api/me/notifications/{notice['id']}/read", headers=polly)
    assert refused.status_code == 404 and refused.json["error"] == "not_found"
    marked = client.post(f"/api/me/notifications/{notice['id']}/read", headers=kesha)
    assert marked.status_code == 200 and marked.json["read"] is True
    unread = client.get("/api/me/notifications?unread=true", headers=kesha).json
    assert unread["unread"] == 3 and notice["id"] not in [n["id"] for n in unread["notifications"]]
    assert client.post("/api/me/notifications/read-all", headers=kesha).json == {"marked": 3}
    assert client.get("/api/me/notifications", headers=polly).json["unread"] == 3  # untouched


def test_settings_are_read_and_changed_with_words_for_nonsense(app, issuer, day):
    client = app.test_client()
    rio = issuer.headers(day.ids["rio"], "developer")
    path = "/api/me/notification-settings"
    assert client.get(path, headers=rio).json == {"task_mail": True, "timezone": None}
    changed = client.put(path, json={"task_mail": False}, headers=rio)
    assert changed.status_code == 200 and changed.json == {"task_mail": False, "timezone": None}
    assert client.get(path, headers=rio).json == {"task_mail": False, "timezone": None}
    moved = client.put(path, json={"task_mail": False, "timezone": "Asia/Tokyo"}, headers=rio)
    assert (
        moved.json
        == client.get(path, headers=rio).json
        == {
            "task_mail": False,
            "timezone": "Asia/Tokyo",
        }
    )
    for nonsense in (
        {"task_mail": "no"},
        {},
        {"task_mail": False, "more": 1},
        [1],
        {"task_mail": True, "timezone": "Mars/Olympus"},
        {"task_mail": True, "timezone": 3},
    ):
        answer = client.put("/api/me/notification-settings", json=nonsense, headers=rio)
        assert answer.status_code == 400 and answer.json["message"], nonsense


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=ten", "before=-1", "before=x", "unread=maybe"]
)
def test_a_nonsense_query_is_a_400_with_words(app, issuer, day, query):
    answer = app.test_client().get(
        f"/api/me/notifications?{query}", headers=issuer.headers(day.ids["rio"], "developer")
    )
    assert answer.status_code == 400 and answer.json["error"] == "invalid_query"


def test_every_route_needs_a_token(app):
    client = app.test_client()
    for method, path in [
        ("get", "/api/me/notifications"),
        ("post", "/api/me/notifications/x/read"),
        ("post", "/api/me/notifications/read-all"),
        ("get", "/api/me/notification-settings"),
        ("put", "/api/me/notification-settings"),
    ]:
        assert getattr(client, method)(path).status_code == 401, path


def test_the_day_notice_says_the_days_figures(uow, day):
    with uow.read() as session:
        row = (
            session.execute(
                select(notices).where(
                    notices.c.account_id == day.ids["polly"], notices.c.kind == "day_closed"
                )
            )
            .mappings()
            .one()
        )
        words = reading.shown(session, row)
    assert "paid in fees:    $24.00" in words["body"]
    assert "balance carried: \u2212$24.00" in words["body"] and "carries over" in words["body"]


def test_deactivating_after_the_notice_drops_the_mail(uow, day):
    with uow.begin() as session:
        session.execute(
            update(accounts).where(accounts.c.account_id == day.ids["rio"]).values(active=False)
        )
    mailer = Mailer(uow, "127.0.0.1", 9, "n@x")  # nothing listens: only rio's are looked at
    leased, _ = mailer._lease(_mail_ids(uow, day.ids["rio"]))
    assert leased == []
    with uow.read() as session:
        statuses = set(
            session.scalars(
                select(mails.c.status)
                .join(notices, notices.c.notice_id == mails.c.notice_id)
                .where(notices.c.account_id == day.ids["rio"])
            )
        )
    assert statuses == {"dropped"}


def _mail_ids(uow, account_id):
    with uow.read() as session:
        return list(
            session.scalars(
                select(mails.c.id)
                .join(notices, notices.c.notice_id == mails.c.notice_id)
                .where(notices.c.account_id == account_id)
            )
        )


# --- the mailer ---------------------------------------------------------------------------------


def pending_task_mails(uow, count: int) -> list[str]:
    """`count` "New task for you" notices over three popugs, each with its mail pending."""
    popugs = [f"00000000-0000-4000-8000-00000000010{n}" for n in range(3)]
    deliver(uow, [account_event("account.created", p, f"popug{n}") for n, p in enumerate(popugs)])
    task_ids = [f"30000000-0000-4000-8000-{n:012d}" for n in range(count)]
    created = [
        task_created_v2(t, f"Feed {n}", None, START, popugs[0]) for n, t in enumerate(task_ids)
    ]
    priced = [task_priced(t, Decimal("12.00"), Decimal("31.00"), START) for t in task_ids]
    deliver(uow, created + priced)
    deliver(uow, [assigned(t, popugs[n % 3], None, START) for n, t in enumerate(task_ids)])
    return task_ids


def mail_rows(uow) -> list[dict]:
    with uow.read() as session:
        return [dict(row) for row in session.execute(select(mails).order_by(mails.c.id)).mappings()]


def test_the_mailer_leases_a_batch_at_once_and_sends_each_mail_once(uow, sink):
    port, maildir = sink
    pending_task_mails(uow, 30)
    mailer = Mailer(uow, "127.0.0.1", port, "notifier@ates.example")
    with statements_sent(uow.engine) as sent:
        assert mailer.send_pending() == 30
    leases = [s for s in sent if s.startswith("UPDATE mails") and "attempts" in s]
    assert len(leases) == 1, leases  # one claim for the batch, not one per mail
    assert mailer.send_pending() == 0
    stored = stored_mails(maildir)
    assert sorted(mail["Message-ID"] for mail in stored) == sorted(
        row["message_id"] for row in mail_rows(uow)
    )
    assert {(row["status"], row["attempts"]) for row in mail_rows(uow)} == {("sent", 1)}
    assert all(subject_of(mail).startswith("New task for you: Feed") for mail in stored)


def test_a_mailer_stopping_mid_batch_releases_what_it_did_not_send(uow, sink):
    port, maildir = sink
    pending_task_mails(uow, 5)
    mailer = Mailer(uow, "127.0.0.1", port, "notifier@ates.example")
    mailer.stop()  # before the first mail: the whole leased batch is let go again
    assert mailer.send_pending() == 0
    assert stored_mails(maildir) == []
    assert {(r["status"], r["attempts"], r["not_before"]) for r in mail_rows(uow)} == {
        ("pending", 0, None)
    }
    assert Mailer(uow, "127.0.0.1", port, "notifier@ates.example").send_pending() == 5


def test_a_server_refusing_mid_batch_delays_that_mail_and_releases_the_rest(uow):
    port, accepted = free_port(), []

    class RefusingThird:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            accepted.append(envelope)
            return "250 OK" if len(accepted) < 3 else "451 try again later"

    controller = Controller(RefusingThird(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        pending_task_mails(uow, 6)
        before = clock.utcnow()
        assert Mailer(uow, "127.0.0.1", port, "notifier@ates.example").send_pending() == 2
    finally:
        controller.stop()
    rows = mail_rows(uow)
    assert [r["status"] for r in rows] == ["sent"] * 2 + ["pending"] * 4
    refused = rows[2]
    assert refused["attempts"] == 1  # its next try after the first retry delay (5 s):
    assert refused["not_before"] >= before + timedelta(seconds=5)
    assert "451" in refused["last_error"]
    assert {(r["attempts"], r["not_before"]) for r in rows[3:]} == {(0, None)}
