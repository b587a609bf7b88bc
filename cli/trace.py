"""`ates trace <task id>`: the path of one task through every service, grouped by correlation id.

It asks each service's admin endpoint (ates/event_log.py) what it published about the task,
then which of those events each service applied, with the stored access token (`ates login` as
an admin). Every correlation id is one cause: an HTTP request, a reassignment job, a billing-day
close; the events it caused are listed under it in time order.
"""

import json
import sys
import uuid
from collections import defaultdict

import requests

from ates.config import service_url
from cli import token_store

SERVICES = (
    "tracker",
    "accounting",
    "analytics",
)  # auth publishes only account events: none names a task
TIMEOUT = 10
IDS_PER_CALL = 50  # keeps the request line well under gunicorn's 4 KB limit


class TraceFailed(Exception):
    pass


def add_parser(commands) -> None:
    trace = commands.add_parser(
        "trace",
        help="the path of one task through every service (admins)",
        description="Every event about the task that a service published, which "
        "services applied it and when, grouped by correlation id.",
    )
    trace.add_argument("task_id", help="the task's UUID")
    trace.add_argument("--json", action="store_true", help="print the trace as JSON")


def run(args, get=requests.get, token: str | None = None) -> int:
    try:
        task_id = str(uuid.UUID(args.task_id))
    except ValueError:
        print(f"ates trace: {args.task_id!r} is not a task id (a UUID)", file=sys.stderr)
        return 1
    try:
        token = token or token_store.current_access_token(token_store.token_path())
    except token_store.NotSignedIn as error:
        print(f"ates trace: {error}", file=sys.stderr)
        return 1
    found = collect(task_id, {service: service_url(service) for service in SERVICES}, token, get)
    print(json.dumps(found, indent=2) if args.json else render(found))
    for problem in found["problems"]:
        print(f"ates trace: {problem}", file=sys.stderr)
    return 1 if found["problems"] else 0


def collect(task_id: str, urls: dict[str, str], token: str, get=requests.get) -> dict:
    """{task_id, events: [...], problems: [...]}: each event with `service` (its producer) and
    `applied` ({service: applied_at}), in time order; a service that cannot answer is a problem."""
    headers = {"Authorization": f"Bearer {token}"}
    events, problems = [], []
    for service, url in urls.items():
        try:
            answer = _ask(get, f"{url}/api/events/published", {"task_id": task_id}, headers)
        except TraceFailed as error:
            problems.append(f"{service}: {error}")
            continue
        events += [
            {**event, "service": service, "applied": {}}
            for event in (answer or {}).get("events", [])
        ]
    by_id = {event["event_id"]: event for event in events}
    ids = list(by_id)
    for service, url in urls.items():
        for start in range(0, len(ids), IDS_PER_CALL):
            try:
                answer = _ask(
                    get,
                    f"{url}/api/events/applied",
                    {"ids": ",".join(ids[start : start + IDS_PER_CALL])},
                    headers,
                )
            except TraceFailed as error:
                problems.append(f"{service}: {error}")
                break
            for applied in (answer or {}).get("events", []):
                if applied["event_id"] in by_id:
                    by_id[applied["event_id"]]["applied"][service] = applied["applied_at"]
    events.sort(key=lambda event: (event["created_at"], event["time"]))
    return {"task_id": task_id, "events": events, "problems": problems}


def _ask(get, url: str, params: dict, headers: dict) -> dict | None:
    """The JSON answer; None when the service has no such list (404: no outbox, say)."""
    try:
        response = get(url, params=params, headers=headers, timeout=TIMEOUT)
    except requests.RequestException:
        raise TraceFailed(f"cannot be reached at {url}") from None
    if response.status_code == 404:
        return None
    if response.status_code in (401, 403):
        raise TraceFailed(
            f"refused ({response.status_code}): `ates trace` needs an admin's sign-in (`ates login`)"
        )
    if not response.ok:
        raise TraceFailed(f"answered {response.status_code} at {url}")
    return response.json()


def render(found: dict) -> str:
    events = found["events"]
    if not events:
        return f"No service published anything about task {found['task_id']}."
    groups = defaultdict(list)
    for event in events:  # already in time order, so the groups are too
        groups[event["correlation_id"] or "(none)"].append(event)
    lines = [
        f"Task {found['task_id']}: {len(events)} events, {len(groups)} correlation "
        f"{'id' if len(groups) == 1 else 'ids'}"
    ]
    for correlation_id, caused in groups.items():
        lines += ["", f"correlation {correlation_id}"]
        for event in caused:
            lines.append(
                f"  {event['created_at']}  {event['service']:<10}  {event['type']} v{event['version']}"
                f"  {event['event_id']}"
            )
            published = (
                f"published {event['published_at']}"
                if event["published_at"]
                else "not published yet"
            )
            applied = ", ".join(
                f"{service} {at}"
                for service, at in sorted(event["applied"].items(), key=lambda item: item[1])
            )
            lines.append(f"      {published}; applied by {applied or 'nobody yet'}")
    return "\n".join(lines)
