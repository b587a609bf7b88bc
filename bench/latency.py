"""Benchmark: how soon a completed task shows at accounting and at analytics, under a steady load,
against the raw broker's round trip measured in the same run.

raw        one connection publishes with confirms to a queue of the benchmark's own, another
           consumes it; the time from publishing until the consumer holds the message, at the
           same rate as the completions below;
completed  the real tracker (gunicorn, the Procfile's settings) answers `POST /api/tasks/<id>/
           complete` for RATE completions a second, each by the task's assignee; its worker
           relays task.completed; the real accounting worker pays the reward (the balance shows
           it when that transaction commits), and publishes transaction.applied; the real analytics
           worker applies it to the day's income (the summary shows it when that commits).
           Measured: from each completion's HTTP answer until the row that carries it is committed
           in accounting's database (transactions) and analytics' (event_archive, written in the
           transaction that moves the summary), as notifications of those commits reach this
           process (a trigger the benchmark adds to its own databases; PostgreSQL's NOTIFY).

Everything on PostgreSQL and a throw-away virtual host. The popugs and their open tasks are made
before the clock starts (the tasks through the tracker's API, so every service heard of them).
Printed: p50/p95/p99 of each, the raw p99, the ratio p99 / raw p99 (goal <= 10), and the median
latency of the first and the last ten seconds (a growing backlog shows as the second far above
the first).

    python -m bench.latency [--rate 100] [--seconds 60] [--popugs 20]

The workers inherit the environment: `ATES_OUTBOX_WAKEUPS=off python -m bench.latency` runs the
relays on their 50 ms poll alone instead of woken by each commit (ates/bus/wakeup.py).
"""

import argparse
import contextlib
import http.client
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika
import psycopg2
import requests
from sqlalchemy import insert, text

from accounting.models import accounts as accounting_accounts
from analytics.models import accounts as analytics_accounts
from ates import migrations
from ates.db import make_engine
from bench.http import Issuer, _free_port, _wait_until_up
from tests.conftest import _throw_away_vhost
from tests.databases import postgres_database
from tracker.models import accounts as tracker_accounts

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("tracker", "accounting", "analytics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100, help="completions a second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--popugs", type=int, default=20)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(_throw_away_vhost())
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        issuer = stack.enter_context(Issuer())
        urls = {s: stack.enter_context(postgres_database(f"latency_{s}")) for s in SERVICES}
        raw = raw_round_trips(broker.amqp_url, args.rate, min(args.seconds, 10))
        found = run(broker, issuer, urls, directory, args.rate, args.seconds, args.popugs)
    raw_p99 = percentile(raw, 99)
    print(
        f"{args.rate} completions/s for {args.seconds} s, {args.popugs} popugs, PostgreSQL, "
        f"outbox wakeups {os.environ.get('ATES_OUTBOX_WAKEUPS', 'on')}; "
        f"raw broker round trip p50 {percentile(raw, 50):.1f} ms p99 {raw_p99:.1f} ms"
    )
    for where in ("accounting", "analytics"):
        seen = found[where]
        p99 = percentile(seen, 99)
        print(
            f"completion -> {where:<10} p50 {percentile(seen, 50):7.1f} ms  "
            f"p95 {percentile(seen, 95):7.1f} ms  p99 {p99:7.1f} ms  "
            f"p99/raw p99 {p99 / raw_p99:6.1f}  (goal <= 10)   "
            f"median first 10 s {found['first'][where]:.1f} ms, last 10 s "
            f"{found['last'][where]:.1f} ms"
        )
    print(
        f"completions answered: {found['answered']}, HTTP p99 {found['http_p99']:.1f} ms; "
        f"the benchmark's own client and listener used {found['own_cpu']:.0%} of a core"
    )


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile by the nearest rank (no interpolation: one of the measured values)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least the first
    return ordered[int(rank) - 1]


def raw_round_trips(amqp_url: str, rate: int, seconds: int) -> list[float]:
    """Publish (with confirms) -> consumed, in ms, at `rate` messages a second."""
    queue = f"bench.latency.{uuid.uuid4().hex[:8]}"
    sent: dict[str, float] = {}
    trips: list[float] = []
    total = rate * seconds
    ready, done = threading.Event(), threading.Event()

    def consume():
        with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
            channel = connection.channel()
            channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            ready.set()
            for method, properties, _body in channel.consume(queue, inactivity_timeout=30):
                if method is None:
                    break
                trips.append((time.perf_counter() - sent[properties.message_id]) * 1000)
                channel.basic_ack(method.delivery_tag)
                if len(trips) == total:
                    break
            channel.queue_delete(queue)
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    ready.wait(30)
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        started = time.perf_counter()
        for number in range(total):
            _sleep_until(started + number / rate)
            message_id = str(number)
            sent[message_id] = time.perf_counter()
            channel.basic_publish(
                "",
                queue,
                b"{}",
                pika.BasicProperties(message_id=message_id, delivery_mode=2),
            )
    done.wait(60)
    return trips


def run(broker, issuer, urls, directory, rate, seconds, popug_count) -> dict:
    for service, url in urls.items():
        migrations.upgrade(ROOT / service / "migrations", url)
    popugs = [str(uuid.uuid4()) for _ in range(popug_count)]
    _seed(urls, popugs)
    _watch(urls)
    env = {
        **os.environ,
        **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()},
        "ATES_AUTH_ISSUER": issuer.url,
        "ATES_VAR_DIR": str(directory),
        **{f"ATES_{s.upper()}_WORKER_METRICS_PORT": "0" for s in SERVICES},
        **broker.env(),
    }
    for service in SERVICES:
        subprocess.run(
            [sys.executable, "-m", f"{service}.worker", "declare"], cwd=ROOT, env=env, check=True
        )
    port = _free_port()
    commands = [
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"]
        + ["tracker.app:create_app()"],
        *([sys.executable, "-m", f"{service}.worker"] for service in SERVICES),
    ]
    with contextlib.ExitStack() as processes:
        for number, command in enumerate(commands):
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=processes.enter_context(open(directory / f"process-{number}.log", "wb")),
                stderr=subprocess.STDOUT,
            )
            processes.callback(_stop, process)
        base = f"http://127.0.0.1:{port}"
        tokens = {popug: issuer.token(popug, "developer") for popug in popugs}
        tasks = _open_tasks(base, tokens, rate * seconds, urls)
        _wait_until_quiet(broker, urls)
        _vacuum(urls)
        return _measure(base, tokens, tasks, urls, rate)


def _seed(urls: dict, popugs: list[str]) -> None:
    """The developers, as each service's replica would hold them after auth's account events."""
    rows = {
        "tracker": (tracker_accounts, {"role": "developer", "assignable": True}),
        "accounting": (accounting_accounts, {"role": "developer", "email": None}),
        "analytics": (analytics_accounts, {}),
    }
    for service, (table, extra) in rows.items():
        engine = make_engine(urls[service])
        names = {"username": "p", "full_name": "Popug"}
        with engine.begin() as connection:
            connection.execute(
                insert(table),
                [
                    {
                        "account_id": popug,
                        "active": True,
                        "version": 1,
                        **{k: f"{v}{n}" for k, v in names.items() if k in table.c},
                        **{k: v for k, v in extra.items() if k in table.c},
                    }
                    for n, popug in enumerate(popugs)
                ],
            )
        engine.dispose()


def _open_tasks(base: str, tokens: dict, count: int, urls: dict) -> list[tuple[str, str]]:
    """`count` tasks made through the tracker's API, waited for until accounting and analytics
    have priced every one; (task id, assignee) each."""
    _wait_until_up(base, next(iter(tokens.values())))
    anyone = next(iter(tokens.values()))
    body = json.dumps({"title": "Feed the parrots"})

    def create(_number):
        with requests.post(
            f"{base}/api/tasks",
            data=body,
            headers={"Authorization": f"Bearer {anyone}", "Content-Type": "application/json"},
            timeout=30,
        ) as answer:
            answer.raise_for_status()
            task = answer.json()
            return task["task_id"], task["assignee_id"]

    with ThreadPoolExecutor(8) as pool:
        tasks = list(pool.map(create, range(count)))
    deadline = time.monotonic() + 600
    for service, table in (("accounting", "tasks"), ("analytics", "task_prices")):
        engine = make_engine(urls[service])
        while _count(engine, table) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} did not price {count} tasks in 10 minutes")
            time.sleep(0.5)
        engine.dispose()
    return tasks


def _wait_until_quiet(broker, urls: dict) -> None:
    """Until every event of the set-up is handled: the outboxes published and every queue empty
    twice in a row, a statistics interval apart (the management API counts every 5 s)."""
    engines = [make_engine(urls[service]) for service in ("tracker", "accounting")]
    deadline, empty_since = time.monotonic() + 600, None
    while True:
        unpublished = sum(_count(e, "outbox WHERE published_at IS NULL") for e in engines)
        waiting = sum(q.get("messages") or 0 for q in broker.admin.queues(broker.vhost))
        if unpublished or waiting:
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since > 6:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"still busy after 10 minutes: {unpublished} {waiting}")
        time.sleep(0.5)
    for engine in engines:
        engine.dispose()


def _measure(base: str, tokens: dict, tasks: list, urls: dict, rate: int) -> dict:
    answered: dict[str, float] = {}
    answer_ms: list[float] = []
    seen: dict[str, dict[str, float]] = {"accounting": {}, "analytics": {}}
    stop, ready = threading.Event(), threading.Event()
    listener = threading.Thread(target=_listen, args=(urls, seen, stop, ready), daemon=True)
    listener.start()
    if not ready.wait(30):
        raise RuntimeError("could not LISTEN to the watched databases")
    # A keep-alive connection per sending thread, and the standard library's client: requests'
    # layers cost ~3x its CPU per call, taken from the two cores the system measured runs on.
    local = threading.local()
    address = urllib.parse.urlsplit(base)

    def complete(task_id: str, assignee: str) -> None:
        for attempt in (1, 2):
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection(
                    address.hostname, address.port, timeout=30
                )
            asked = time.perf_counter()
            try:
                local.connection.request(
                    "POST",
                    f"/api/tasks/{task_id}/complete",
                    headers={"Authorization": f"Bearer {tokens[assignee]}", "Content-Length": "0"},
                )
                answer = local.connection.getresponse()
                answer.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # the server closed an idle keep-alive connection before reading the request
                local.connection.close()
                del local.connection
                if attempt == 2:
                    raise
        if answer.status != 200:
            raise RuntimeError(f"completing {task_id}: HTTP {answer.status}")
        answered[task_id] = time.perf_counter()
        answer_ms.append((answered[task_id] - asked) * 1000)

    with ThreadPoolExecutor(16) as pool:
        cpu_before = time.process_time()  # this process: the client and the listener
        started = time.perf_counter()
        futures = []
        for number, (task_id, assignee) in enumerate(tasks):
            _sleep_until(started + number / rate)
            futures.append(pool.submit(complete, task_id, assignee))
        for future in futures:
            future.result()
        own_cpu = (time.process_time() - cpu_before) / (time.perf_counter() - started)
    deadline = time.monotonic() + 300
    while any(len(found) < len(tasks) for found in seen.values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every completion showed within 5 minutes: {_sizes(seen)}")
        time.sleep(0.1)
    stop.set()
    listener.join()
    order = [task_id for task_id, _ in tasks]  # in the order they were completed
    window = rate * 10
    latency = {
        where: [(found[t] - answered[t]) * 1000 for t in order] for where, found in seen.items()
    }
    return {
        **latency,
        "first": {w: statistics.median(v[:window]) for w, v in latency.items()},
        "last": {w: statistics.median(v[-window:]) for w, v in latency.items()},
        "answered": len(answered),
        "http_p99": percentile(answer_ms, 99),
        "own_cpu": own_cpu,
    }


def _listen(urls: dict, seen: dict, stop: threading.Event, ready: threading.Event) -> None:
    """Notes the moment each completion's row is committed: the row's trigger (WATCH_SQL) sends
    its task id on CHANNEL, which PostgreSQL delivers when the transaction commits. The thread
    sleeps in a selector between notifications, so watching costs the measured system next to
    nothing (a poller every 5 ms took a quarter of a core here and 400 queries a second)."""
    watching = selectors.DefaultSelector()
    for where in WATCH_SQL:
        connection = psycopg2.connect(urls[where])
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        watching.register(connection, selectors.EVENT_READ, where)
    ready.set()
    try:
        while not stop.is_set():
            readable = watching.select(timeout=0.1)
            now = time.perf_counter()
            for key, _ in readable:
                where, connection = key.data, key.fileobj
                connection.poll()
                for notification in connection.notifies:
                    seen[where].setdefault(notification.payload, now)
                connection.notifies.clear()
    finally:
        for key in list(watching.get_map().values()):
            key.fileobj.close()
        watching.close()


# A trigger in each watched database (the benchmark's own, thrown away after it) that tells
# CHANNEL the task id of each committed row carrying a completion's reward: at accounting the
# reward's transaction (the balance moves in the same commit), at analytics the archived
# transaction.applied (written in the transaction that moves the summary).
CHANNEL = "bench_latency"
WATCH_SQL = {
    "accounting": (
        "CREATE FUNCTION bench_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_notify('{CHANNEL}', NEW.task_id); RETURN NULL; END $$",
        "CREATE TRIGGER bench_seen AFTER INSERT ON transactions FOR EACH ROW "
        "WHEN (NEW.kind = 'completion_reward') EXECUTE FUNCTION bench_seen()",
    ),
    "analytics": (
        "CREATE FUNCTION bench_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.message::json->'data'->>'kind' = 'completion_reward' THEN "
        f"PERFORM pg_notify('{CHANNEL}', NEW.message::json->'data'->>'task_id'); END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER bench_seen AFTER INSERT ON event_archive FOR EACH ROW "
        "WHEN (NEW.event_type = 'transaction.applied') EXECUTE FUNCTION bench_seen()",
    ),
}


def _watch(urls: dict) -> None:
    for where, statements in WATCH_SQL.items():
        engine = make_engine(urls[where])
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        engine.dispose()


def _vacuum(urls: dict) -> None:
    """VACUUM ANALYZE every database after the set-up's burst of inserts. Left to autovacuum, it
    falls into the first seconds of the measurement and takes a core from two: a backlog that
    says nothing about the steady state."""
    for url in urls.values():
        engine = make_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()


def _count(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 - our names


def _sizes(seen: dict) -> dict:
    return {where: len(found) for where, found in seen.items()}


def _sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


if __name__ == "__main__":
    main()
