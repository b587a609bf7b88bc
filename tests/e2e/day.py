"""A scripted working day of aTES, driven through the services' REST APIs with tokens from the real
authorization-code flow: popugs of every role hired by the admin, tasks created by all of them,
reassignments, completions by the assignees, the day closed by an accountant. `Script` records what
it did and saw at the tracker, an `EventTap` every event the system published; `checks.py` compares the
whole system with the model of the rules (`tests/e2e/model.py`)."""

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ates import clock
from tests.conftest import eventually
from tests.e2e import model
from tests.e2e.system import bearer, sign_in_for_tokens
from tests.e2e.tap import EventTap

ROLES = ("admin", "manager", "accountant", "boss", "developer")
ADMIN_PASSWORD = "e2e-admin-password"
PASSWORD = "popug-password-1"
THREADS = 8
TITLES = (
    "Feed the parrots",
    "Change the green",
    "Polish the beaks",
    "Count the seeds",
    "Sweep the perch",
    "Teach the new popug",
    "Water the palms",
    "Fix the swing",
)


def noon_zone() -> tuple[str, ZoneInfo]:
    """An `Etc/GMT±n` zone where it is about noon now, so that no billing day ends while a test runs."""
    offset = 12 - clock.utcnow().hour  # -11 .. +12 hours east of UTC
    name = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc names count west as positive
    return name, ZoneInfo(name)


# Short first retries so that an event waiting for another settles fast, and about 110 s in all,
# longer than any outage the tests make (a service stopped, the broker restarted), so that nothing
# which only waits for a stopped service is dead-lettered.
RETRY_DELAYS_MS = (200, 500, 1000, 2000, 5000, 10000, 30000, 60000)


def system_settings(zone_name: str, **more) -> dict[str, str]:
    """The environment every e2e day runs with: those retries, long-lived tokens, the scheduler on."""
    return {
        "ATES_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ATES_RETRY_DELAYS_MS": ",".join(map(str, RETRY_DELAYS_MS)),
        "ATES_ACCESS_TOKEN_TTL": "7200",
        "ATES_TIMEZONE": zone_name,
        "ATES_SCHEDULER_INTERVAL_S": "2",
        **more,
    }


def subscriptions() -> list:
    """What every consumer of every service subscribes to, from the handlers that decide it."""
    from accounting.handlers import handlers as accounting
    from analytics.handlers import handlers as analytics
    from notifier.handlers import handlers as notifier
    from tracker.handlers import handlers as tracker

    return [
        s
        for handlers in (accounting, analytics, notifier, tracker)
        for s in handlers.subscriptions()
    ]


def consumer_queues() -> list[str]:
    return sorted(subscription.queue for subscription in subscriptions())


@dataclass
class Popug:
    username: str
    role: str
    password: str = PASSWORD
    account_id: str | None = None
    tokens: dict | None = None

    @property
    def email(self) -> str:
        return f"{self.username}@uberpopug.example"

    @property
    def headers(self) -> dict:
        return bearer(self.tokens)


ANSWER_WITHIN = 120  # seconds a request is sent again while a web process restarts


def _unanswered(answer) -> str | None:
    """Why this is not an answer yet (a proxy's or a restarting server's), or None."""
    if answer.status_code in (502, 503):
        return f"{answer.status_code}"
    if answer.status_code == 409 and answer.headers.get("Retry-After") is not None:
        return "409 in flight"
    return None


class Api:
    """The services' REST APIs, each call counted; `many` runs calls on a pool of threads."""

    def __init__(self, urls: dict[str, str]):
        self.urls = urls
        self.http = requests.Session()
        # A kept-alive connection may be closed by the server just as a request goes out on it; a
        # GET is asked again then, as any HTTP client would. A write is sent again only by `call`,
        # with the Idempotency-Key it first went with (ates/idempotency.py): never done twice.
        again = Retry(
            total=2,
            connect=2,
            read=2,
            status=0,
            allowed_methods={"GET", "HEAD"},
            backoff_factor=0.1,
        )
        self.http.mount(
            "http://", HTTPAdapter(pool_connections=8, pool_maxsize=THREADS * 2, max_retries=again)
        )
        self.requests = 0
        self.sent_again = 0  # requests sent again because no answer came
        self.replayed = 0  # writes answered from the key's stored answer (done before, not again)
        self.sign_ins = 0
        self.seconds: Counter = Counter()  # time spent per kind of step, for the figures
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="e2e-http")

    @contextmanager
    def timed(self, step: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[step] += round(time.monotonic() - started, 1)

    def call(
        self,
        method: str,
        service: str,
        path: str,
        popug: Popug | None = None,
        expect=(200,),
        **kwargs,
    ):
        """One request, answered. A write goes with an Idempotency-Key of its own; while no answer
        comes (a web process killed or restarting: no connection, a cut one, 502/503, or the first
        try still in flight) it is sent again with the same key, for up to ANSWER_WITHIN seconds."""
        headers = dict(popug.headers) if popug else {}
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Idempotency-Key"] = str(uuid.uuid4())
        deadline = time.monotonic() + ANSWER_WITHIN
        while True:
            with self._lock:
                self.requests += 1
            try:
                answer = self.http.request(
                    method, self.urls[service] + path, headers=headers, timeout=60, **kwargs
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # the answer cut off half-way
            ) as error:
                answer, problem = None, f"{type(error).__name__}"
            else:
                problem = _unanswered(answer)
            if problem is None:
                if answer.headers.get("Idempotent-Replayed") == "true":
                    with self._lock:
                        self.replayed += 1
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {service} {path}: no answer ({problem})")
            with self._lock:
                self.sent_again += 1
            time.sleep(0.2)
        if expect and answer.status_code not in expect:
            who = popug.username if popug else "nobody"
            raise AssertionError(
                f"{method} {service} {path} as {who}: {answer.status_code} {answer.text[:500]}"
            )
        return answer

    def get(self, service: str, path: str, popug: Popug, **params) -> dict:
        return self.call("GET", service, path, popug, params=params).json()

    def many(self, function, items) -> list:
        return list(self._pool.map(function, items))

    def sign_in(self, popug: Popug) -> Popug:
        with self._lock:
            self.sign_ins += 1
        popug.tokens = sign_in_for_tokens(self.urls["auth"], popug.username, popug.password)
        return popug

    def close(self) -> None:
        self._pool.shutdown()
        self.http.close()


class Cast:
    """The bootstrap admin and the popugs it hired, each signed in once through the code flow."""

    def __init__(self, admin: Popug, popugs: list[Popug]):
        self.admin, self.popugs = admin, popugs
        self.everyone = [admin, *popugs]
        self.by_id = {popug.account_id: popug for popug in self.everyone}

    def of_role(self, role: str) -> list[Popug]:
        return [popug for popug in self.popugs if popug.role == role]

    def emails(self) -> dict[str, str]:
        return {popug.account_id: popug.email for popug in self.everyone}


def hire(api: Api, per_role: int, tag: str) -> Cast:
    """The admin signs in, creates `per_role` popugs of every role through auth's API; each signs in."""
    admin = api.sign_in(Popug("admin", "admin", ADMIN_PASSWORD))
    wanted = [
        Popug(f"{tag}-{role}-{n:02d}", role) for role in ROLES for n in range(1, per_role + 1)
    ]

    def create(popug: Popug) -> Popug:
        answer = api.call(
            "POST",
            "auth",
            "/api/accounts",
            admin,
            expect=(201,),
            json={
                "username": popug.username,
                "password": popug.password,
                "email": popug.email,
                "full_name": popug.username.replace("-", " ").title(),
                "role": popug.role,
            },
        ).json()
        popug.account_id = answer["account_id"]
        return popug

    with api.timed("hiring and signing in"):
        popugs = api.many(api.sign_in, api.many(create, wanted))
    accounts = {
        a["username"]: a["account_id"] for a in api.get("auth", "/api/accounts", admin)["accounts"]
    }
    admin.account_id = accounts["admin"]
    assert all(accounts[p.username] == p.account_id for p in popugs)
    return Cast(admin, popugs)


def task_request(number: int, rng: random.Random) -> tuple[dict, str | None, str]:
    """A new task as clients send it, in one of the three forms, with the jira id and title it must get."""
    title = f"{rng.choice(TITLES)} no. {number}"
    form = number % 3
    if form == 0:
        return {"title": title, "description": f"task {number}"}, None, title
    if form == 1:
        return (
            {"title": title, "jira_id": f"UBERPOP-{number}", "description": f"task {number}"},
            f"UBERPOP-{number}",
            title,
        )
    return (
        {"title": f"[POPUG-{number}] — {title}"},
        f"POPUG-{number}",
        title,
    )  # the old clients' form


@dataclass
class Script:
    """What the test does to the system, and what it saw at the tracker while doing it."""

    api: Api
    cast: Cast
    rng: random.Random
    tasks: dict[str, dict] = field(default_factory=dict)  # task id -> the task as last seen
    completions: dict[str, dict] = field(default_factory=dict)  # task id -> the completion's answer
    assignments: dict[str, list[tuple]] = field(
        default_factory=dict
    )  # task id -> (assignee, job id) of each
    jobs: list[dict] = field(default_factory=list)
    first_assignees: dict[str, str] = field(
        default_factory=dict
    )  # task id -> assignee the creation answered with
    created: int = 0
    _booked: dict[str, int] = field(
        default_factory=dict
    )  # task id -> assignments already in the model
    _rewarded: set = field(default_factory=set)
    _done_when_read: set = field(default_factory=set)

    def create_tasks(self, count: int) -> list[dict]:
        wanted = [
            (*task_request(number, self.rng), self.rng.choice(self.cast.everyone))
            for number in range(self.created + 1, self.created + count + 1)
        ]
        self.created += count

        def create(request: tuple) -> dict:
            body, jira_id, title, creator = request
            for _ in range(600):  # until the tracker has heard of an assignable popug
                answer = self.api.call(
                    "POST", "tracker", "/api/tasks", creator, expect=(201, 409), json=body
                )
                if answer.status_code == 201:
                    break
                time.sleep(0.1)
            task = answer.json()
            assert (task["jira_id"], task["title"], task["status"]) == (jira_id, title, "open"), (
                task
            )
            return task

        with self.api.timed("creating tasks"):
            made = self.api.many(create, wanted)
        self.tasks.update({task["task_id"]: task for task in made})
        self.first_assignees.update({task["task_id"]: task["assignee_id"] for task in made})
        return made

    def reassign(self, by: Popug, while_running=None) -> dict:
        """An admin or manager reassigns every open task; waits for the job. `while_running()` is
        called right after the job was started (the chaos test kills its runner there)."""
        with self.api.timed("reassigning"):
            job = self.api.call("POST", "tracker", "/api/reassignments", by, expect=(202,)).json()
            if while_running is not None:
                while_running()
            job = eventually(
                lambda: (
                    (
                        found := self.api.get(
                            "tracker", f"/api/reassignments/{job['reassignment_id']}", by
                        )
                    )["status"]
                    == "done"
                    and found
                ),
                timeout=300,
                interval=0.2,
                message="the reassignment job",
            )
        self.jobs.append(job)
        return job

    def refresh(self) -> dict[str, dict]:
        """Every task as the tracker shows it to an admin now."""
        found, offset = {}, 0
        while True:
            page = self.api.get(
                "tracker", "/api/tasks", self.cast.admin, scope="all", limit=1000, offset=offset
            )["tasks"]
            found.update({task["task_id"]: task for task in page})
            if len(page) < 1000:
                break
            offset += 1000
        assert set(found) == set(self.tasks), "the tracker lists exactly the tasks created"
        self.tasks = found
        return found

    def complete(self, count: int, prefer=None) -> list[dict]:
        """The assignees complete `count` open tasks, those whose assignee `prefer(popug)` first."""
        open_tasks = [t for t in self.refresh().values() if t["status"] == "open"]
        self.rng.shuffle(open_tasks)
        if prefer is not None:
            open_tasks.sort(key=lambda t: not prefer(self.cast.by_id[t["assignee_id"]]))
        chosen = open_tasks[:count]

        def complete(task: dict) -> dict:
            assignee = self.cast.by_id[task["assignee_id"]]
            return self.api.call(
                "POST", "tracker", f"/api/tasks/{task['task_id']}/complete", assignee
            ).json()

        with self.api.timed("completing"):
            done = self.api.many(complete, chosen)
        for task in done:
            assert task["status"] == "done" and task["completed_at"], task
            self.completions[task["task_id"]] = task
        return done

    def check_refusals(self) -> None:
        """A second completion is 409, someone else's task 403: nothing is booked for either."""
        done = next(iter(self.completions.values()))
        self.api.call(
            "POST",
            "tracker",
            f"/api/tasks/{done['task_id']}/complete",
            self.cast.by_id[done["assignee_id"]],
            expect=(409,),
        )
        still_open = next(t for t in self.refresh().values() if t["status"] == "open")
        stranger = next(p for p in self.cast.popugs if p.account_id != still_open["assignee_id"])
        self.api.call(
            "POST",
            "tracker",
            f"/api/tasks/{still_open['task_id']}/complete",
            stranger,
            expect=(403,),
        )

    def read_assignments(self) -> None:
        """Every assignment the tracker made, from each task's activity log; a task done when last
        read cannot have changed since and is not read again."""
        stale = [
            task_id
            for task_id in self.refresh()
            if task_id not in self.assignments or task_id not in self._done_when_read
        ]

        def activity(task_id: str) -> tuple[str, list[str], str]:
            task = self.api.get("tracker", f"/api/tasks/{task_id}", self.cast.admin)
            assignees = [
                (entry["account_id"], entry["reassignment_id"])
                for entry in task["activity"]
                if entry["kind"] == "assigned"
            ]
            return task_id, assignees, task["status"]

        with self.api.timed("reading activity"):
            read = self.api.many(activity, stale)
        for task_id, assignees, status in read:
            self.assignments[task_id] = assignees
            if status == "done":
                self._done_when_read.add(task_id)

    def book(self, books: model.Books, billing_date: date) -> None:
        """Book into the model what happened since the last booking, on the day that is open."""
        self.read_assignments()
        for task_id, assignees in self.assignments.items():
            for assignee, _job in assignees[self._booked.get(task_id, 0) :]:
                books.assign(billing_date, task_id, assignee)
            self._booked[task_id] = len(assignees)
        for task_id, task in self.completions.items():
            if task_id not in self._rewarded:
                books.complete(billing_date, task_id, task["assignee_id"])
                self._rewarded.add(task_id)

    def job_problems(self) -> list[str]:
        """Each reassignment job assigned as many tasks as it says, none of them twice, and a task's
        first assignment is the one at its creation, to the assignee the creation answered with."""
        problems = []
        for job in self.jobs:
            per_task = Counter(
                task_id
                for task_id, assigned in self.assignments.items()
                for _assignee, job_id in assigned
                if job_id == job["reassignment_id"]
            )
            if sum(per_task.values()) != job["reassigned"] or any(n > 1 for n in per_task.values()):
                problems.append(
                    f"job {job['reassignment_id']} says {job['reassigned']} reassigned, the activity logs "
                    f"{sum(per_task.values())}, {sum(n > 1 for n in per_task.values())} tasks twice"
                )
        for task_id, assigned in self.assignments.items():
            if not assigned or assigned[0] != (self.first_assignees[task_id], None):
                problems.append(
                    f"task {task_id}: created for {self.first_assignees[task_id]}, its activity {assigned}"
                )
        return problems

    def completed(self, books: model.Books) -> list[model.Completion]:
        return [
            model.Completion(
                task_id,
                books.prices[task_id].completion_reward,
                clock.from_wire(task["completed_at"]),
            )
            for task_id, task in self.completions.items()
        ]


# ---- waiting for the system, closing the day ----


def wait_for_prices(tap: EventTap, task_ids, timeout: float = 180) -> dict[str, model.Price]:
    def all_priced():
        prices, _ = tap.prices()
        return prices if set(task_ids) <= set(prices) else None

    return eventually(
        all_priced, timeout=timeout, interval=0.5, message="task.priced for every task"
    )


def balances_at_accounting(api: Api, accountant: Popug) -> dict[str, Decimal]:
    accounts = api.get("accounting", "/api/accounts", accountant)["accounts"]
    return {account["account_id"]: model.money(account["balance"]) for account in accounts}


def expected_balances(books: model.Books, cast: Cast) -> dict[str, Decimal]:
    return {
        popug.account_id: books.balances.get(popug.account_id, model.ZERO)
        for popug in cast.everyone
    }


def wait_until_accounting_agrees(
    api: Api, books: model.Books, cast: Cast, timeout: float = 180
) -> None:
    """Until every balance at accounting is the model's (it has applied every event so far). If
    that never comes, the failure says which lines of whose audit log make the difference."""
    accountant = cast.of_role("accountant")[0]
    problems = []

    def agreed():
        problems[:] = model.differences(
            "balance of", expected_balances(books, cast), balances_at_accounting(api, accountant)
        )
        return not problems

    until(
        agreed,
        timeout,
        "accounting's balances to be the model's",
        problems,
        explain=lambda: why_balances_differ(api, books, cast, accountant),
    )


def why_balances_differ(api: Api, books: model.Books, cast: Cast, accountant: Popug) -> list[str]:
    """The open day's audit log of each popug whose balance is not the model's, against the
    model's lines: which task's fee or reward is missing or extra (a balance alone says only by
    how much)."""
    expected, actual = expected_balances(books, cast), balances_at_accounting(api, accountant)
    found = []
    for popug in cast.everyone:
        if expected[popug.account_id] == actual.get(popug.account_id):
            continue
        for billing_date, day in books.days.items():
            if not day.closed:
                log = audit_log_at_accounting(api, accountant, popug, billing_date)
                found += model.audit_log_problems(popug.account_id, day, log)
    return found


def audit_log_at_accounting(
    api: Api, accountant: Popug, popug: Popug, billing_date: date
) -> list[dict]:
    """A popug's transactions of one billing day, as accounting's API lists them."""
    return api.get(
        "accounting",
        f"/api/accounts/{popug.account_id}/transactions",
        accountant,
        date=billing_date.isoformat(),
    )["transactions"]


def until(predicate, timeout: float, what: str, problems: list[str], explain=None) -> None:
    """Wait for `predicate`; on timeout fail with `problems` and what `explain()` adds, if given
    (asked once, at the end: a diagnosis may cost more requests than a look)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            if explain is not None:
                try:
                    problems = [*problems, "why:", *explain()]
                except Exception as error:  # noqa: BLE001 - the diagnosis must not hide the failure
                    problems = [*problems, f"(no diagnosis: {error!r})"]
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}:\n" + "\n".join(problems)
            )
        time.sleep(0.5)


def open_billing_day(api: Api, cast: Cast) -> date:
    return date.fromisoformat(
        api.get("accounting", "/api/billing-days/current", cast.admin)["billing_date"]
    )


def close_day(api: Api, accountant: Popug, books: model.Books, billing_date: date) -> dict:
    """An accountant (or an admin) closes the day by hand; the answer must be the model's close."""
    summary = api.call(
        "POST", "accounting", f"/api/billing-days/{billing_date}/close", accountant
    ).json()
    payouts = books.close(billing_date)
    day = books.days[billing_date]
    expected = {
        "billing_date": billing_date.isoformat(),
        "status": "closed",
        "payouts": len(payouts),
        "total_paid": f"{sum(payouts.values(), model.ZERO)}",
        "management_income": f"{day.income}",
    }
    assert summary == expected, f"closing {billing_date}: expected {expected}, got {summary}"
    return summary


def settle(
    api: Api,
    script: Script,
    books: model.Books,
    tap: EventTap,
    billing_date: date,
    timeout: float = 180,
) -> None:
    """Book what the script did into the model on `billing_date` (prices from the tap), then wait
    until accounting has applied all of it: closing earlier would move a late fee to the next day."""
    with api.timed("waiting for prices"):
        books.prices.update(wait_for_prices(tap, script.tasks, timeout))
    script.book(books, billing_date)
    with api.timed("waiting for accounting"):
        wait_until_accounting_agrees(api, books, script.cast, timeout)
