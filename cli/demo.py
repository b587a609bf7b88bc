"""`ates demo`: fill a running aTES with popugs and a simulated working day, so that every page
has something to show. It works only through the public doors: auth's accounts API, the
tracker's and accounting's REST APIs, with tokens from the SSO's code flow.

Yesterday: popugs get tasks, a manager reassigns, assignees complete about half, an accountant
closes the day (payouts, the notifier's mail). Today: a few more tasks and completions, so that
the dashboard shows today's income and popugs below zero. Running it again adds another day's
worth. Every write carries an Idempotency-Key of its own and is sent again, with the same key, when
no answer came (ates/idempotency.py): a retried request is never done twice.
"""

import os
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from ates.config import service_url
from ates.tokens import auth_issuer
from cli.login import LoginFailed, login_with_password

TIMEOUT = 10
PASSWORD = "demo-popug-password"
CAST = {"developer": 10, "boss": 2, "accountant": 2, "manager": 2}
TITLES = (
    "Feed the parrots",
    "Change the green",
    "Polish the perch",
    "Count the seeds",
    "Sort the feathers",
    "Tune the whistle",
    "Sweep the cage",
    "Paint the beak sign",
    "Test the swing",
    "Carry the millet",
)


class DemoFailed(Exception):
    pass


@dataclass
class Popug:
    username: str
    role: str
    headers: dict


def add_parser(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="fill a running system with popugs and a simulated day",
        description=f"Creates popugs (password: {PASSWORD}), tasks, a reassignment, completions, "
        "closes yesterday's billing day and starts today's.",
    )
    demo.add_argument(
        "--admin-password",
        default=None,
        help="the admin's password (default: ATES_ADMIN_PASSWORD, else the development 'admin')",
    )
    demo.add_argument("--tasks", type=int, default=60, help="tasks on the first day (default 60)")
    demo.add_argument("--seed", type=int, default=None, help="make the day's choices repeatable")


def run(args) -> int:
    password = args.admin_password or os.environ.get("ATES_ADMIN_PASSWORD") or "admin"
    try:
        summary = fill(auth_issuer(), password, args.tasks, random.Random(args.seed), say=_say)
    except (DemoFailed, LoginFailed) as error:
        print(f"ates demo: {error}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def fill(issuer: str, admin_password: str, tasks: int, rng: random.Random, say=print) -> str:
    urls = {name: service_url(name) for name in ("gateway", "tracker", "accounting")}
    admin = Popug("admin", "admin", _bearer(login_with_password(issuer, "admin", admin_password)))
    say("signed in as admin")
    cast = _cast(issuer, admin, say)
    workers = [popug for popug in cast if popug.role not in ("admin", "manager")]
    manager = next(popug for popug in cast if popug.role == "manager")
    accountant = next(popug for popug in cast if popug.role == "accountant")

    created = _create_tasks(urls["tracker"], cast, tasks, rng)
    say(f"{len(created)} tasks created")
    reassigned = _reassign(urls["tracker"], manager)
    say(f"a manager reassigned the {reassigned} open tasks")
    done = _complete_some(urls["tracker"], workers, rng, share=0.75)
    say(f"{done} tasks completed by their assignees")
    _wait_for_accounting(urls["accounting"], workers, rewards=done)
    closed = _close_the_day(urls["accounting"], accountant)
    say(
        f"billing day {closed['billing_date']} closed: "
        f"{closed['payouts']} payouts, {closed['total_paid']} paid"
    )
    _create_tasks(urls["tracker"], cast, max(tasks // 4, 1), rng)
    today = _complete_some(urls["tracker"], workers, rng, share=0.3)
    say(f"today so far: {today} more tasks completed")
    return (
        f"\nDone. Open {urls['gateway']} and sign in as admin, or as any of "
        f"{', '.join(popug.username for popug in cast[:4])}, ... (password: {PASSWORD}).\n"
        f"Their notices are behind the bell; their mail: python -m mailsink list"
    )


def _cast(issuer: str, admin: Popug, say) -> list[Popug]:
    auth = service_url("auth")
    names = [
        f"demo-{role}-{number}" for role, count in CAST.items() for number in range(1, count + 1)
    ]
    roles = [role for role, count in CAST.items() for _ in range(count)]
    for username, role in zip(names, roles, strict=True):
        answer = _post(
            f"{auth}/api/accounts",
            headers=admin.headers,
            timeout=TIMEOUT,
            json={
                "username": username,
                "password": PASSWORD,
                "email": f"{username}@uberpopug.example",
                "full_name": username.replace("-", " ").title(),
                "role": role,
            },
        )
        if answer.status_code not in (
            201,
            409,
        ):  # 409: made by an earlier run, sign it in all the same
            raise DemoFailed(
                f"auth refused to create {username}: {answer.status_code} {answer.text[:200]}"
            )
    with ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(pool.map(lambda name: login_with_password(issuer, name, PASSWORD), names))
    say(f"{len(names)} popugs signed in")
    return [
        Popug(name, role, _bearer(token))
        for name, role, token in zip(names, roles, tokens, strict=True)
    ]


def _create_tasks(tracker: str, cast: list[Popug], count: int, rng: random.Random) -> list[dict]:
    def create(number: int) -> dict:
        author = rng.choice(cast)
        title = f"{rng.choice(TITLES)} #{number}"
        body = {
            "title": f"[UBERPOP-{number}] — {title}" if number % 3 == 0 else title,
            "description": f"Part of the demo day; asked by {author.username}",
        }
        for _ in range(60):  # the tracker learns of new popugs from auth's events within moments
            answer = _post(
                f"{tracker}/api/tasks", headers=author.headers, json=body, timeout=TIMEOUT
            )
            if answer.status_code == 201:
                return answer.json()
            if answer.status_code != 409:
                raise DemoFailed(
                    f"the tracker refused a task: {answer.status_code} {answer.text[:200]}"
                )
            time.sleep(0.5)
        raise DemoFailed("the tracker knows no popug to assign tasks to; is auth-worker running?")

    numbers = [rng.randrange(1000, 9999) for _ in range(count)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(create, numbers))


def _reassign(tracker: str, manager: Popug) -> int:
    job = _post(f"{tracker}/api/reassignments", headers=manager.headers, timeout=TIMEOUT)
    if job.status_code != 202:
        raise DemoFailed(f"the reassignment was refused: {job.status_code} {job.text[:200]}")
    for _ in range(120):
        state = requests.get(
            f"{tracker}/api/reassignments/{job.json()['reassignment_id']}",
            headers=manager.headers,
            timeout=TIMEOUT,
        ).json()
        if state["status"] == "done":
            return state["total"]
        time.sleep(0.5)
    raise DemoFailed("the reassignment did not finish within a minute; is tracker-worker running?")


def _complete_some(tracker: str, workers: list[Popug], rng: random.Random, share: float) -> int:
    def complete_mine(popug: Popug) -> int:
        mine = requests.get(
            f"{tracker}/api/tasks",
            params={"scope": "mine", "status": "open"},
            headers=popug.headers,
            timeout=TIMEOUT,
        ).json()["tasks"]
        chosen = [task for task in mine if rng.random() < share]
        for task in chosen:
            _post(
                f"{tracker}/api/tasks/{task['task_id']}/complete",
                headers=popug.headers,
                timeout=TIMEOUT,
            )
        return len(chosen)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return sum(pool.map(complete_mine, workers))


def _wait_for_accounting(accounting: str, workers: list[Popug], rewards: int) -> None:
    """Until accounting has paid the reward of every task the demo's popugs completed: what the demo
    can know. (Fees it cannot count: a reassignment spreads tasks over every assignable popug, and
    on a system with other popugs some land on them. Accounting applies the tracker's events in
    order, so the fees published before the completions are in by then too.)"""

    def paid() -> int:
        return sum(
            sum(
                transaction["kind"] == "completion_reward"
                for transaction in requests.get(
                    f"{accounting}/api/me/transactions", headers=popug.headers, timeout=TIMEOUT
                )
                .json()
                .get("transactions", [])
            )
            for popug in workers
        )

    for _ in range(120):
        if paid() >= rewards:
            return
        time.sleep(0.5)
    raise DemoFailed("accounting has not caught up within a minute; is accounting-worker running?")


def _close_the_day(accounting: str, accountant: Popug) -> dict:
    answer = requests.get(
        f"{accounting}/api/billing-days/current", headers=accountant.headers, timeout=TIMEOUT
    )
    if not answer.ok:
        raise DemoFailed(f"accounting does not answer: {answer.status_code}")
    day = answer.json()["billing_date"]
    closed = _post(
        f"{accounting}/api/billing-days/{day}/close", headers=accountant.headers, timeout=120
    )
    if not closed.ok:
        raise DemoFailed(f"closing the day was refused: {closed.status_code} {closed.text[:200]}")
    return closed.json()


def _post(url: str, headers: dict, timeout: float, json: dict | None = None) -> requests.Response:
    """POST with an Idempotency-Key of its own; sent again with the same key while no answer comes
    (a dropped connection, a restarting service, the first try still in flight)."""
    headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(6):
        try:
            answer = requests.post(url, headers=headers, json=json, timeout=timeout)
        except requests.ConnectionError:
            answer = None
        in_flight = (
            answer is not None
            and answer.status_code == 409
            and _error(answer) == "request_in_flight"
        )
        if answer is not None and answer.status_code < 500 and not in_flight:
            return answer
        time.sleep(0.5 * (attempt + 1))
    raise DemoFailed(f"no answer from {url} after six tries")


def _error(answer: requests.Response) -> str | None:
    try:
        return answer.json().get("error")
    except ValueError:
        return None


def _bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _say(text: str) -> None:
    print(f"ates demo: {text}", file=sys.stderr, flush=True)
