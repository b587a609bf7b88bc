"""The services stand without each other (seed 000): with accounting stopped, popugs still create,
complete and reassign tasks; with analytics stopped, accounting still charges, closes the day and
pays, and the notifier tells every popug; with the notifier stopped, everyone else goes on. A
stopped service, started again, catches up from its queues, and the whole system then comes out
exactly as the model of the rules says: every notice and mail once."""

import random
import time

import pytest

from tests.e2e import model
from tests.e2e.checks import (
    accounting_problems,
    check_everything,
    describe,
    figures,
    mail_figures,
    notifier_problems,
)
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
ACCOUNTING = ("accounting-worker", "accounting", "accounting-scheduler")
ANALYTICS = ("analytics-worker", "analytics")
NOTIFIER = ("notifier-worker", "notifier")


@pytest.mark.timeout(600)
def test_the_tracker_works_without_accounting_and_accounting_without_analytics(broker, tmp_path):
    started = time.monotonic()
    zone_name, zone = noon_zone()
    tap = EventTap(broker.amqp_url).declare().start()
    try:
        with supervised(tmp_path / "var", broker, **system_settings(zone_name)) as system:
            api = Api(system.urls)
            cast = hire(api, per_role=5, tag="alone")
            rng = random.Random("independence")
            script, books = Script(api, cast, rng), model.Books({})
            day = open_billing_day(api, cast)
            script.create_tasks(200)
            script.complete(120)
            settle(api, script, books, tap, day)

            system.stop(*ACCOUNTING)
            tasks_before = len(tap.of_type("task.created", 2))
            script.create_tasks(300)
            script.complete(200)
            script.reassign(cast.of_role("manager")[0])
            assert (
                len(script.tasks) == 500
                and len(script.completions) == 320
                and len(script.jobs) == 1
            )
            assert broker.message_count("accounting.tracker") > 0, (
                "accounting's events wait in its queue"
            )
            assert (
                len(tap.of_type("task.created", 2)) - tasks_before == 300
                and len(tap.of_type("task.priced")) == 200
            )
            system.start(*ACCOUNTING)
            settle(
                api, script, books, tap, day
            )  # it catches up: every task priced, every balance right

            system.stop(*ANALYTICS)
            script.create_tasks(200)
            script.complete(250)
            script.reassign(cast.of_role("admin")[0])
            settle(api, script, books, tap, day)
            close_day(api, cast.of_role("accountant")[0], books, day)
            assert books.days[day].payouts, "accounting pays while analytics is away"
            assert accounting_problems(api, cast, books) == []
            _wait_for(
                lambda: notifier_problems(api, cast, script, books, system.var_dir) == [],
                "every notice and mail while analytics is away",
                timeout=120,
            )
            assert broker.message_count("analytics.accounting") > 0, (
                "analytics' events wait in its queue"
            )
            system.start(*ANALYTICS)

            system.stop(*NOTIFIER)
            day = open_billing_day(api, cast)
            script.create_tasks(100)
            script.complete(150)
            script.reassign(cast.of_role("manager")[0])
            settle(api, script, books, tap, day)
            close_day(api, cast.of_role("accountant")[0], books, day)
            assert broker.message_count("notifier.tracker") > 0, "the notices wait in its queue"
            system.start(*NOTIFIER)
            check_everything(
                api, cast, script, books, tap, broker, system.var_dir, zone, timeout=180
            )
            print(f"\nindependence, {time.monotonic() - started:.0f}s:\n{describe(books)}")
            print(
                "figures (independence): "
                + str(
                    figures(
                        api,
                        script,
                        books,
                        tap,
                        stopped=["accounting", "analytics", "notifier"],
                        **mail_figures(system.var_dir),
                    )
                )
            )
    finally:
        tap.stop()


def _wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
