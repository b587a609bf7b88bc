"""Benchmark: the dashboard's queries with 10,000 and then 1,000,000 completed tasks in the history.

A throw-away analytics database (migrated as in production) is loaded with completed tasks
spread over the last 365 days: prices, details, completions, the day's top task, income and
balances, written through the projections' own upsert statements, many rows per execute (a
batch's transactions are summed per day and per account first, and only each day's best
completion of a batch competes for the day's top: the upserts add and compare, so the result is
the same). Then the real service queries run, each in a fresh read session as the API runs them:

most-expensive   the most expensive task of the last 30 days, with each of its days
summary          today's management income and the count of popugs below zero now

Each query is timed many times; the medians at both sizes and their ratio are printed
(goal: the large history costs under 2x the small one).

    python -m bench.analytics [--small 10000] [--large 1000000] [--repeat 300]
"""

import argparse
import random
import statistics
import tempfile
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from time import perf_counter

from analytics import domain, projections, service
from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 12, 31)
DAYS = 365
POPUGS = 500
BATCH = 20_000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=300)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/analytics.db"
        migrations.upgrade(ROOT / "analytics" / "migrations", url)
        engine = make_engine(url)
        uow = UnitOfWork(engine)
        history = History(random.Random(6))
        figures = {}
        for size in (options.small, options.large):
            started, before = perf_counter(), history.loaded
            history.load_up_to(uow, size)
            loaded = f"+{history.loaded - before:,} loaded in {perf_counter() - started:.1f}s"
            figures[size] = time_queries(uow, options.repeat)
            print(
                f"{size:>9,} completed tasks ({loaded:>26}): "
                + "  ".join(
                    f"{name} {seconds * 1000:6.3f} ms" for name, seconds in figures[size].items()
                )
            )
        engine.dispose()
    small, large = figures[options.small], figures[options.large]
    for name in small:
        ratio = large[name] / small[name]
        print(
            f"ratio {name:<15} {ratio:5.2f}  ({options.large:,} / {options.small:,} tasks; goal < 2)"
        )


class History:
    """Completed tasks, generated and loaded a batch at a time, each batch in one transaction."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.loaded = 0
        self.popugs = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(POPUGS)]

    def load_up_to(self, uow: UnitOfWork, total: int) -> None:
        while self.loaded < total:
            count = min(BATCH, total - self.loaded)
            with uow.begin() as session:
                load_batch(session, [self.completed_task(self.loaded + n) for n in range(count)])
            self.loaded += count

    def completed_task(self, number: int) -> dict:
        """A task completed on one of the last DAYS days, assigned once or more, each assignee
        paying the fee."""
        rng = self.rng
        day = TODAY - timedelta(days=rng.randrange(DAYS))
        completed_at = datetime.combine(day, time(), UTC) + timedelta(seconds=rng.randrange(86_400))
        return {
            "task_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "completed_at": completed_at,
            "day": day,
            "reward": Decimal(rng.randint(20, 40)),
            "assign_fee": Decimal(rng.randint(10, 20)),
            "jira_id": f"UBERPOP-{number}",
            "title": f"Task number {number}",
            "version": 3,
            "assignees": [rng.choice(self.popugs) for _ in range(rng.choice((1, 1, 2, 3)))],
        }


def load_batch(session, tasks: list[dict]) -> None:
    dialect = projections.dialect_of(session)
    session.execute(projections.price_insert(dialect), tasks)
    session.execute(projections.details_upsert(dialect), tasks)
    session.execute(projections.completion_insert(dialect), tasks)
    best = {}
    for task in tasks:
        ranked = domain.ranking(
            domain.CompletedTask(task["task_id"], task["reward"], task["completed_at"])
        )
        if task["day"] not in best or ranked < best[task["day"]][0]:
            best[task["day"]] = (ranked, task)
    session.execute(projections.top_task_upsert(dialect), [task for _, task in best.values()])
    income, balances = defaultdict(Decimal), defaultdict(Decimal)
    for task in tasks:
        for assignee in task["assignees"]:  # assign_fee transactions
            income[task["day"]] += task["assign_fee"]
            balances[assignee] -= task["assign_fee"]
        income[task["day"]] -= task[
            "reward"
        ]  # the completion_reward transaction of the last assignee
        balances[task["assignees"][-1]] += task["reward"]
    session.execute(
        projections.income_upsert(dialect),
        [{"day": day, "management_income": amount} for day, amount in income.items()],
    )
    session.execute(
        projections.balance_upsert(dialect),
        [{"account_id": popug, "balance": amount} for popug, amount in balances.items()],
    )


def time_queries(uow: UnitOfWork, repeat: int) -> dict[str, float]:
    """Median seconds of each query, each run in a fresh read session as the API runs it."""
    first = TODAY - timedelta(days=29)
    queries = {
        "most-expensive": lambda session: service.most_expensive_task(session, first, TODAY),
        "summary": lambda session: service.summary(session, TODAY),
    }
    found = {}
    for name, query in queries.items():
        timings = []
        for attempt in range(repeat + 10):
            started = perf_counter()
            with uow.read() as session:
                query(session)
            if attempt >= 10:  # the first runs warm the caches
                timings.append(perf_counter() - started)
        found[name] = statistics.median(timings)
    return found


if __name__ == "__main__":
    main()
