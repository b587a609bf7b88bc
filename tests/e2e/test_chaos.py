"""Chaos: a working day of 2,000 tasks while every worker (the notifier's too), the SSO's web
process and the web processes that take the day's writes (tracker and accounting: gunicorn's
master, and one of its workers) are SIGKILLed at random moments and the process runner
(supervisord, as `bin/up` runs it) starts them again, and RabbitMQ itself is restarted once in the
middle with the popugs still working. (With auth's web process down, the popugs go on with the
tokens they hold: each service checks them against the signing keys it fetched before.) A client
whose write got no answer sends it again with the same Idempotency-Key until it gets one.
Afterwards the whole system must agree with the model exactly as on a calm day: each task created
once, each completion once, nothing lost, nothing doubled, nothing left in a `.dead` queue; a mail
may come twice only as the same Message-ID, from a mailer killed just after sending.

It restarts its broker, so it runs on a RabbitMQ node of its own (`private_broker`), never on the
one the other tests share."""

import random
import threading
import time

import pytest

from tests.e2e import model
from tests.e2e.checks import check_everything, describe, figures, mail_figures
from tests.e2e.day import (
    Api,
    Script,
    close_day,
    hire,
    noon_zone,
    open_billing_day,
    settle,
    system_settings,
)
from tests.e2e.system import supervised
from tests.e2e.tap import EventTap

pytestmark = pytest.mark.broker
WORKERS = (
    "auth-worker",
    "tracker-worker",
    "accounting-worker",
    "analytics-worker",
    "notifier-worker",
    "accounting-scheduler",
)
WEB_WRITERS = ("tracker", "accounting")  # the web processes that take the day's writes
KILLED = (
    *WORKERS,
    "auth",  # gunicorn's master; its orphaned worker notices and goes, the new one binds the port
    *WEB_WRITERS,  # their masters ...
    *(
        f"{name}:worker" for name in WEB_WRITERS
    ),  # ... and a worker of each, which the master replaces
)
KILLS_PER_WORKER = 3


class ChaosMonkey(threading.Thread):
    """SIGKILLs the processes of KILLED, each KILLS_PER_WORKER times in a random order, at random
    moments (0.2 to 1.5 s after the killed one before runs again: the kills fall while the day's work
    goes on), and waits each time for supervisord to run the killed process again. `kill` also kills
    on demand."""

    def __init__(self, system, rng: random.Random):
        super().__init__(name="chaos-monkey", daemon=True)
        self.system, self.rng = system, rng
        self.plan = [process for process in KILLED for _ in range(KILLS_PER_WORKER)]
        rng.shuffle(self.plan)
        self.kills: dict[str, int] = dict.fromkeys(KILLED, 0)
        self.pids = {
            process["name"]: process["pid"] for process in system.processes()
        }  # as the monkey left them
        self.restarts = 0
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one kill at a time, so that the pids stay right

    def run(self) -> None:
        try:
            for worker in self.plan:
                if self._stopping.wait(self.rng.uniform(0.2, 1.5)):
                    return
                self.kill(worker)
        except BaseException as error:  # noqa: BLE001 - the test thread reports it
            self.error = error

    def kill(self, worker: str) -> None:
        with self._lock:
            if worker.endswith(":worker"):  # the master starts another worker; its own pid stays
                self.system.kill_a_child(worker.removesuffix(":worker"), timeout=120)
            else:
                self.pids[worker] = self.system.kill(worker, wait_for_restart=True, timeout=120)
            self.kills[worker] += 1
            self.restarts += 1  # kill() returned: the process runs again under a new pid

    def finish(self) -> None:
        """Let the remaining kills happen (the day is not over until every worker was killed)."""
        self.join(timeout=300)
        assert not self.is_alive(), "the chaos monkey did not finish"
        if self.error is not None:
            raise self.error

    def unexpected_restarts(self) -> list[str]:
        """Processes that run under another pid than the monkey left them with: they died by themselves."""
        return [p["name"] for p in self.system.processes() if p["pid"] != self.pids[p["name"]]]


@pytest.mark.timeout(900)
def test_a_day_of_kills_and_a_broker_restart_loses_and_doubles_nothing(private_broker, tmp_path):
    started = time.monotonic()
    zone_name, zone = noon_zone()
    tap = EventTap(private_broker.amqp_url).declare().start()
    try:
        with supervised(tmp_path / "var", private_broker, **system_settings(zone_name)) as system:
            api = Api(system.urls)
            cast = hire(api, per_role=8, tag="chaos")
            rng = random.Random("chaos")
            script, books = Script(api, cast, rng), model.Books({})
            day = open_billing_day(api, cast)
            monkey = ChaosMonkey(system, rng)
            monkey.start()
            during_outage = {}
            for number, (tasks, completions) in enumerate(((700, 550), (700, 600), (600, 500)), 1):
                if number == 2:  # the broker goes down and comes back while popugs create tasks
                    restart = threading.Thread(
                        target=_restart_broker, args=(private_broker, api, during_outage)
                    )
                    restart.start()
                script.create_tasks(tasks)
                if number == 2:
                    restart.join(timeout=180)
                    assert private_broker.restarts == 1 and during_outage["requests"] > 0
                script.complete(completions)
                # The last job loses its runner at once: the restarted worker resumes it, assigning
                # no task twice.
                script.reassign(
                    rng.choice(cast.of_role("manager") + cast.of_role("admin")),
                    while_running=(lambda: monkey.kill("tracker-worker")) if number == 3 else None,
                )
            kills_while_working = monkey.restarts
            monkey.finish()
            assert kills_while_working >= len(monkey.plan) // 3, (
                "many kills fall while the popugs work"
            )
            settle(api, script, books, tap, day, timeout=300)
            assert open_billing_day(api, cast) == day
            assert monkey.unexpected_restarts() == [], "no process died but those killed"
            close_day(api, rng.choice(cast.of_role("accountant")), books, day)
            check_everything(
                api,
                cast,
                script,
                books,
                tap,
                private_broker,
                system.var_dir,
                zone,
                timeout=300,
                mail_again=True,  # the mailer is killed too: a mail may come twice, same Message-ID
            )
            print(f"\nchaos, {time.monotonic() - started:.0f}s:\n{describe(books)}")
            found = figures(
                api,
                script,
                books,
                tap,
                kills=monkey.kills,
                restarts=monkey.restarts,
                kills_while_working=kills_while_working,
                broker_restarts=private_broker.restarts,
                tap_reconnects=tap.reconnects,
                requests_while_the_broker_was_down=during_outage["requests"],
                **mail_figures(system.var_dir),
            )
            print(f"figures (chaos): {found}")
    finally:
        tap.stop()


def _restart_broker(broker, api: Api, during_outage: dict) -> None:
    time.sleep(2)  # some tasks before, some during, some after
    before = api.requests
    broker.restart(down_for=4)
    during_outage["requests"] = api.requests - before
