"""The whole system proves the rules: every process of the Procfile under supervisord as `bin/up`
runs them, on fresh databases, the real RabbitMQ and the real SSO. 100 popugs of five roles, signed
in through the authorization-code flow, work a day of 2,000 tasks with three reassignments and their
completions; an accountant closes it; the next day starts with negative balances carried over and is
closed by an admin. After each close every balance, audit-log line, payout, mail and analytics
figure is compared with the model of the rules (tests/e2e/model.py) computed from what the test did."""

import random
import time
from contextlib import ExitStack
from datetime import timedelta

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
from tests.e2e.system import postgres_databases, supervised
from tests.e2e.tap import EventTap

pytestmark = pytest.mark.broker


@pytest.mark.timeout(900)
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_working_days_come_out_as_the_rules_say(database, tmp_path, broker):
    started = time.monotonic()
    zone_name, zone = noon_zone()
    tap = EventTap(broker.amqp_url).declare().start()
    with ExitStack() as stack:
        stack.callback(tap.stop)
        databases = (
            stack.enter_context(postgres_databases("day")) if database == "postgresql" else {}
        )
        system = stack.enter_context(
            supervised(tmp_path / "var", broker, **system_settings(zone_name), **databases)
        )
        api = Api(system.urls)
        stack.callback(api.close)
        cast = hire(api, per_role=20, tag=database[:2])
        rng = random.Random(f"working-day-{database}")
        script, books = Script(api, cast, rng), model.Books({})
        managers, admins, accountants = (
            cast.of_role("manager"),
            cast.of_role("admin"),
            cast.of_role("accountant"),
        )

        day_one = open_billing_day(api, cast)
        # Each round: tasks created by anyone, most completed by their assignees, the rest reassigned;
        # about two assignments per completion keeps half the popugs above zero and half below.
        for tasks, completions, reassigner in (
            (800, 500, rng.choice(managers)),
            (700, 600, rng.choice(admins)),
            (500, 450, rng.choice(managers)),
        ):
            script.create_tasks(tasks)
            script.complete(completions)
            script.reassign(reassigner)
        script.check_refusals()
        settle(api, script, books, tap, day_one)
        assert open_billing_day(api, cast) == day_one, (
            "the scheduler closes no day before it is over"
        )
        close_day(api, rng.choice(accountants), books, day_one)
        day_two = open_billing_day(api, cast)
        assert day_two == day_one + timedelta(days=1)
        check_everything(api, cast, script, books, tap, broker, system.var_dir, zone)
        print(f"\n{database}, day one after {time.monotonic() - started:.0f}s:\n{describe(books)}")
        assert len(books.days[day_one].payouts) >= 10, "the first day pays some popugs"

        in_the_red = {account for account, balance in books.balances.items() if balance < 0}
        assert len(in_the_red) >= 10, "the first day leaves popugs in the red to carry over"
        script.create_tasks(300)
        done = script.complete(500, prefer=lambda popug: popug.account_id in in_the_red)
        assert sum(task["assignee_id"] in in_the_red for task in done) >= 100
        script.reassign(rng.choice(admins))
        settle(api, script, books, tap, day_two)
        assert open_billing_day(api, cast) == day_two
        close_day(api, rng.choice(admins), books, day_two)
        check_everything(api, cast, script, books, tap, broker, system.var_dir, zone)
        second = books.days[day_two]
        assert all(second.opening[account] < 0 for account in in_the_red), "debts carry over"
        assert any(account in second.payouts for account in in_the_red), (
            "a debt of day one worked off and paid"
        )
        print(f"{database}, both days:\n{describe(books)}")
        print(
            f"figures ({database}, {time.monotonic() - started:.0f}s): "
            f"{figures(api, script, books, tap, **mail_figures(system.var_dir))}"
        )
