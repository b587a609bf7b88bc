"""Reading the whole system back after a scripted day and comparing it with the model of the rules:
accounting (balances, every audit-log line, billing days, income), every popug's notices at the
notifier and the mails in the mail sink's Maildir, analytics (today's figures, income, the most
expensive task), what the event tap saw, and every consumer, wait and `.dead` queue. Each part
returns its differences as lines."""

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from ates import clock
from ates.bus import topology
from mailsink import maildir_of, stored_mails, subject_of
from tests.e2e import model
from tests.e2e.day import (
    RETRY_DELAYS_MS,
    Api,
    Cast,
    Script,
    audit_log_at_accounting,
    balances_at_accounting,
    consumer_queues,
    expected_balances,
    until,
)
from tests.e2e.tap import EventTap


def dollars(shown: str) -> Decimal:
    """A sum as the gateway's pages write it ("\u2212$12.00", "$38.00") back to a Decimal."""
    text = shown.strip()
    negative = text.startswith("\u2212")
    amount = Decimal(text.removeprefix("\u2212").removeprefix("$"))
    return -amount if negative else amount


def mails_in(var_dir: Path) -> tuple[Counter, int]:
    """Every mail the sink got, as model.expected_mails counts them, each Message-ID once; and how
    many arrived again under a Message-ID already seen (a mailer killed between the server's
    acceptance and marking the mail sent sends it again: at least once, recognisably the same)."""
    found, seen, again = Counter(), set(), 0
    for mail in stored_mails(maildir_of(var_dir)):
        if mail["Message-ID"] in seen:
            again += 1
            continue
        seen.add(mail["Message-ID"])
        found += model.mail_keys(mail["To"], subject_of(mail))
    return found, again


def notices_at_the_notifier(api: Api, cast: Cast) -> Counter:
    """Every popug's notices, read through the notifier's API as each popug, a job's parts joined."""

    def notices_of(popug) -> list[tuple]:
        keys, before = [], None
        while True:
            params = {"limit": 200, **({"before": before} if before else {})}
            page = api.get("notifier", "/api/me/notifications", popug, **params)
            keys += [model.notice_key(popug.account_id, n) for n in page["notifications"]]
            before = page["next"]
            if before is None:
                return keys

    return model.joined_parts(key for keys in api.many(notices_of, cast.everyone) for key in keys)


def notifier_problems(
    api: Api,
    cast: Cast,
    script: Script,
    books: model.Books,
    var_dir: Path,
    mail_again: bool = False,
) -> list[str]:
    """The notices every popug reads and the mails in the sink, against what the model predicts;
    a mail sent twice is a problem unless `mail_again` (a test that kills the mailer)."""
    expected = model.expected_notices(
        script.assignments,
        {task_id: task["assignee_id"] for task_id, task in script.completions.items()},
        books,
    )
    labels = {
        task_id: model.task_label(task["jira_id"], task["title"])
        for task_id, task in script.tasks.items()
    }
    problems = model.multiset_differences("notices", expected, notices_at_the_notifier(api, cast))
    mails, again = mails_in(var_dir)
    problems += model.multiset_differences(
        "mails", model.expected_mails(expected, cast.emails(), labels, books.prices), mails
    )
    if again and not mail_again:
        problems.append(f"{again} mails sent twice (the same Message-ID) with no mailer killed")
    return problems


def accounting_problems(api: Api, cast: Cast, books: model.Books) -> list[str]:
    """Every balance, every audit-log line of every account on every day, every closed day's figures,
    management income per day: accounting's answers against the model."""
    accountant = cast.of_role("accountant")[0]
    problems = model.differences(
        "balance of", expected_balances(books, cast), balances_at_accounting(api, accountant)
    )
    days = sorted(books.days)
    named = {billing_date: _by_username(books.days[billing_date], cast) for billing_date in days}

    def audit_log(item) -> list[str]:
        popug, billing_date = item
        log = audit_log_at_accounting(api, accountant, popug, billing_date)
        return model.audit_log_problems(popug.username, named[billing_date], log)

    for found in api.many(audit_log, [(p, d) for p in cast.everyone for d in days]):
        problems += found
    for billing_date in days:
        day = books.days[billing_date]
        summary = api.get("accounting", f"/api/billing-days/{billing_date}", accountant)
        expected = {
            "billing_date": billing_date.isoformat(),
            "status": "closed" if day.closed else "open",
            "payouts": len(day.payouts),
            "total_paid": f"{sum(day.payouts.values(), model.ZERO)}",
            "management_income": f"{day.income}",
        }
        problems += model.differences(f"billing day {billing_date}", expected, summary)
    income = api.get(
        "accounting",
        "/api/income",
        accountant,
        **{"from": days[0].isoformat(), "to": days[-1].isoformat()},
    )
    problems += model.differences(
        "accounting's income on",
        {d.isoformat(): f"{books.days[d].income}" for d in days},
        {d["date"]: d["management_income"] for d in income["days"]},
    )
    return problems


def _by_username(day: model.BillingDay, cast: Cast) -> model.BillingDay:
    """The day with accounts named by username, so that a difference names the popug."""
    name = {p.account_id: p.username for p in cast.everyone}
    return model.BillingDay(
        day.billing_date,
        {name.get(a, a): b for a, b in day.opening.items()},
        defaultdict(Counter, {name.get(a, a): lines for a, lines in day.lines.items()}),
        {name.get(a, a): amount for a, amount in day.payouts.items()},
        day.closed,
    )


def analytics_problems(
    api: Api,
    cast: Cast,
    books: model.Books,
    completions: list[model.Completion],
    tasks: dict[str, dict],
    zone: ZoneInfo,
) -> list[str]:
    """Today's figures, income per day and the most expensive task per day and for the range."""
    admin, days = cast.admin, sorted(books.days)
    first = min([days[0], *(c.completed_at.astimezone(zone).date() for c in completions)])
    last = max(days[-1], clock.utcnow().astimezone(zone).date())
    problems = []
    for billing_date in days:
        summary = api.get("analytics", "/api/summary", admin, date=billing_date.isoformat())
        expected = {
            "date": billing_date.isoformat(),
            "management_income": f"{books.days[billing_date].income}",
            "negative_balances": books.negative_balances(),
        }
        problems += model.differences(f"analytics' summary of {billing_date}", expected, summary)
    span = {"from": first.isoformat(), "to": last.isoformat()}
    income = api.get("analytics", "/api/income", admin, **span)
    expected_income = {
        d.isoformat(): f"{books.days[d].income}" if d in books.days else "0.00"
        for d in model_days(first, last)
    }
    problems += model.differences(
        "analytics' income on",
        expected_income,
        {d["date"]: d["management_income"] for d in income["days"]},
    )
    found = api.get("analytics", "/api/most-expensive-task", admin, **span)
    by_day = model.most_expensive_by_day(completions, zone)
    expected = {d.isoformat(): _task_json(by_day.get(d), tasks) for d in model_days(first, last)}
    expected["range"] = _task_json(model.most_expensive(completions), tasks)
    actual = {d["date"]: _comparable(d["task"]) for d in found["by_day"]}
    actual["range"] = _comparable(found["task"])
    problems += model.differences("most expensive task of", expected, actual)
    return problems


def model_days(first: date, last: date) -> list[date]:
    return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]


def _task_json(completion: model.Completion | None, tasks: dict[str, dict]):
    if completion is None:
        return None
    task = tasks[completion.task_id]
    return (
        completion.task_id,
        task["jira_id"],
        task["title"],
        f"{completion.reward}",
        completion.completed_at,
    )


def _comparable(task: dict | None):
    if task is None:
        return None
    return (
        task["task_id"],
        task["jira_id"],
        task["title"],
        task["reward"],
        clock.from_wire(task["completed_at"]),
    )


def queue_problems(broker, retry_delays_ms=RETRY_DELAYS_MS) -> list[str]:
    """Nothing left anywhere: every consumer queue, its wait queues and its `.dead` queue are empty."""
    problems = []
    for queue in consumer_queues():
        names = [
            queue,
            topology.dead_queue_name(queue),
            *(topology.wait_queue_name(queue, d) for d in retry_delays_ms),
        ]
        problems += [
            f"{name} holds {count} messages"
            for name in names
            if (count := broker.message_count(name))
        ]
    return problems


def tap_problems(tap: EventTap, script: Script, books: model.Books) -> list[str]:
    """What the tap saw against what the test did: valid events only, each task priced once within
    the rules, one `task.assigned` per assignment the tracker logged, one `transaction.applied` per
    line, one `payout.sent` per payout and one `billing_day.closed` per close, with the model's figures."""
    prices, problems = tap.prices()
    problems += tap.invalid[: model.SHOWN]
    problems += [
        f"task {task_id}: {p}" for task_id, price in prices.items() for p in price.problems()
    ][: model.SHOWN]
    problems += model.differences(
        "tasks priced", dict.fromkeys(script.tasks, True), dict.fromkeys(prices, True)
    )
    assigned = Counter(m["data"]["task_id"] for m in tap.of_type("task.assigned"))
    problems += model.differences(
        "task.assigned events of task",
        {t: len(a) for t, a in script.assignments.items()},
        dict(assigned),
    )
    lines = sum(sum(lines.values()) for day in books.days.values() for lines in day.lines.values())
    applied = len(tap.of_type("transaction.applied"))
    if applied != lines:
        problems.append(f"{applied} transaction.applied events for {lines} transactions")
    problems += model.multiset_differences(
        "payout.sent events",
        Counter(
            (a, amount, d.billing_date.isoformat())
            for d in books.days.values()
            for a, amount in d.payouts.items()
        ),
        Counter(
            (m["data"]["account_id"], model.money(m["data"]["amount"]), m["data"]["billing_date"])
            for m in tap.of_type("payout.sent")
        ),
    )
    closes = Counter(
        (
            d.billing_date.isoformat(),
            len(d.payouts),
            f"{sum(d.payouts.values(), model.ZERO)}",
            f"{d.income}",
        )
        for d in books.days.values()
        if d.closed
    )
    problems += model.multiset_differences(
        "billing_day.closed events",
        closes,
        Counter(
            tuple(
                m["data"][k] for k in ("billing_date", "payouts", "total_paid", "management_income")
            )
            for m in tap.of_type("billing_day.closed")
        ),
    )
    return problems


def check_everything(
    api: Api,
    cast: Cast,
    script: Script,
    books: model.Books,
    tap: EventTap,
    broker,
    var_dir: Path,
    zone: ZoneInfo,
    timeout: float = 300,
    mail_again: bool = False,
) -> None:
    """Accounting, notices and mail, analytics, the tap and the queues against the model; waits up
    to `timeout` for what is eventually consistent, then fails with every difference still found.
    (120 s was too short on a day the development machine ran at half its speed: the notifier's
    last reassignment notices and a few hundred mails of a 2,000-task day were still on their way,
    before and after the changes then made.)"""
    problems: list[str] = []

    def consistent():
        problems[:] = accounting_problems(api, cast, books)
        problems.extend(notifier_problems(api, cast, script, books, var_dir, mail_again))
        problems.extend(
            analytics_problems(api, cast, books, script.completed(books), script.tasks, zone)
        )
        problems.extend(tap_problems(tap, script, books))
        problems.extend(script.job_problems())
        problems.extend(queue_problems(broker))
        return not problems

    with api.timed("checking everything"):
        until(consistent, timeout, "the whole system to agree with the model", problems)


def describe(books: model.Books) -> str:
    lines = []
    for day in books.days.values():
        counts = Counter(line.kind for lines in day.lines.values() for line in lines.elements())
        lines.append(
            f"{day.billing_date}: {counts['assign_fee']} fees, {counts['completion_reward']} rewards, "
            f"{len(day.payouts)} payouts of {sum(day.payouts.values(), model.ZERO)}, income {day.income}, "
            f"{'closed' if day.closed else 'open'}"
        )
    return "\n".join(lines)


def mail_figures(var_dir: Path) -> dict:
    mails, again = mails_in(var_dir)
    return {"mails": len(stored_mails(maildir_of(var_dir))), "mails sent again": again}


def figures(api: Api, script: Script, books: model.Books, tap: EventTap, **more) -> dict:
    lines = Counter(
        line.kind
        for day in books.days.values()
        for lines in day.lines.values()
        for line in lines.elements()
    )
    return {
        "tasks": len(script.tasks),
        "assignments": sum(len(a) for a in script.assignments.values()),
        "reassignment jobs": len(script.jobs),
        "completions": len(script.completions),
        "transactions": sum(lines.values()),
        "payouts": lines["payout"],
        "events": tap.count(),
        "events seen twice": tap.duplicates,
        "requests": api.requests,
        "sent again": api.sent_again,
        "writes replayed": api.replayed,
        "sign-ins": api.sign_ins,
        **more,
        "lost": 0,
        "seconds": {step: round(seconds, 1) for step, seconds in api.seconds.items()},
    }
