"""The business rules of SPEC §4 as plain Python over Decimals: what every balance, audit-log line,
payout, mail and analytics figure must be, computed from what an end-to-end test did and saw (each
task's assignments and completion at the tracker, the prices accounting fixed), and the comparisons
that list every difference. No HTTP, no broker: `tests/unit/test_e2e_model.py` checks the model."""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
FEES = range(10, 21)  # whole dollars, both ends included
REWARDS = range(20, 41)
INCOME_KINDS = ("assign_fee", "completion_reward")
SHOWN = 8  # differences listed per comparison; the count says how many there are in all


def money(value: str | Decimal | int) -> Decimal:
    """A two-place Decimal from a wire string such as "12.00"; a float is refused, as the SPEC refuses it."""
    if isinstance(value, float):
        raise TypeError(f"money is never a float: {value!r}")
    return Decimal(value).quantize(CENT)


@dataclass(frozen=True)
class Price:
    assign_fee: Decimal
    completion_reward: Decimal

    @classmethod
    def from_event(cls, data: dict) -> "Price":
        return cls(money(data["assign_fee"]), money(data["completion_reward"]))

    def problems(self) -> list[str]:
        """A fee is a whole number of dollars in [10, 20], a reward one in [20, 40]."""
        found = []
        for name, amount, allowed in (
            ("assign fee", self.assign_fee, FEES),
            ("reward", self.completion_reward, REWARDS),
        ):
            if amount != amount.to_integral_value() or int(amount) not in allowed:
                found.append(
                    f"{name} {amount} is not a whole number of dollars in [{allowed[0]}, {allowed[-1]}]"
                )
        return found


@dataclass(frozen=True)
class Line:
    """An audit-log line as the rules fix it. Its time, and so its balance_after, depend on the order
    in which accounting happened to apply the day's events; the arithmetic is checked separately."""

    kind: str
    amount: Decimal
    task_id: str | None

    @classmethod
    def from_api(cls, transaction: dict) -> "Line":
        task = transaction["task"]
        return cls(
            transaction["kind"], money(transaction["amount"]), task["task_id"] if task else None
        )


@dataclass
class BillingDay:
    billing_date: date
    opening: dict[str, Decimal]  # every balance when the day opened
    lines: dict[str, Counter] = field(
        default_factory=lambda: defaultdict(Counter)
    )  # account -> Counter[Line]
    payouts: dict[str, Decimal] = field(
        default_factory=dict
    )  # account -> what it was paid (positive)
    closed: bool = False

    @property
    def income(self) -> Decimal:
        """Management income: −(the day's fees and rewards); payouts are not income."""
        return ZERO - sum(
            (
                line.amount * count
                for lines in self.lines.values()
                for line, count in lines.items()
                if line.kind in INCOME_KINDS
            ),
            ZERO,
        )  # ZERO - x, never a "-0.00"

    def opening_balance(self, account_id: str) -> Decimal:
        return self.opening.get(account_id, ZERO)

    def closing_balance(self, account_id: str) -> Decimal:
        lines = self.lines.get(account_id, Counter())
        return self.opening_balance(account_id) + sum(
            (line.amount * n for line, n in lines.items()), ZERO
        )

    def accounts(self) -> set[str]:
        return {account for account, lines in self.lines.items() if lines}


class Books:
    """Accounting as SPEC §4 says it must come out: a fee per assignment, a reward per first
    completion, and at each close every positive balance paid out while negative ones carry over."""

    def __init__(self, prices: dict[str, Price]):
        self.prices = prices
        self.balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self.days: dict[date, BillingDay] = {}
        self.rewarded: set[str] = set()

    def day(self, billing_date: date) -> BillingDay:
        if billing_date not in self.days:
            if any(not day.closed for day in self.days.values()):
                raise ValueError(f"{billing_date} cannot open while another day is open")
            self.days[billing_date] = BillingDay(billing_date, dict(self.balances))
        day = self.days[billing_date]
        if day.closed:
            raise ValueError(f"{billing_date} is closed; nothing more is booked on it")
        return day

    def assign(self, billing_date: date, task_id: str, account_id: str) -> None:
        """Every assignment, the one at creation and every reassignment (to the same popug too),
        costs the fee."""
        self._book(
            billing_date, account_id, Line("assign_fee", -self.prices[task_id].assign_fee, task_id)
        )

    def complete(self, billing_date: date, task_id: str, account_id: str) -> None:
        """The first completion earns the reward; a task is never rewarded twice."""
        if task_id in self.rewarded:
            return
        self.rewarded.add(task_id)
        self._book(
            billing_date,
            account_id,
            Line("completion_reward", self.prices[task_id].completion_reward, task_id),
        )

    def book(
        self,
        billing_date: date,
        assignments: Iterable[tuple[str, str]] = (),
        completions: Iterable[tuple[str, str]] = (),
    ) -> BillingDay:
        """(task, account) pairs: the assignments and the completions of one stretch of the day."""
        day = self.day(billing_date)
        for task_id, account_id in assignments:
            self.assign(billing_date, task_id, account_id)
        for task_id, account_id in completions:
            self.complete(billing_date, task_id, account_id)
        return day

    def close(self, billing_date: date) -> dict[str, Decimal]:
        """Pay out every positive balance (a payout line of −balance, the balance back to 0); zero and
        negative balances stay. Returns what each popug was paid."""
        day = self.day(billing_date)
        for account_id, balance in sorted(self.balances.items()):
            if balance > ZERO:
                self._book(billing_date, account_id, Line("payout", -balance, None))
                day.payouts[account_id] = balance
        day.closed = True
        return dict(day.payouts)

    def negative_balances(self) -> int:
        return sum(1 for balance in self.balances.values() if balance < ZERO)

    def _book(self, billing_date: date, account_id: str, line: Line) -> None:
        self.day(billing_date).lines[account_id][line] += 1
        self.balances[account_id] += line.amount


@dataclass(frozen=True)
class Completion:
    task_id: str
    reward: Decimal
    completed_at: datetime


def ranking(completion: Completion):
    """The most expensive first: the highest reward; on a tie the earlier completion; then the smaller id."""
    return (-completion.reward, completion.completed_at, completion.task_id)


def most_expensive(completions: Iterable[Completion]) -> Completion | None:
    return min(completions, key=ranking, default=None)


def most_expensive_by_day(
    completions: Iterable[Completion], zone: ZoneInfo
) -> dict[date, Completion]:
    """Per calendar day of `completed_at` in the zone analytics counts days in."""
    by_day = defaultdict(list)
    for completion in completions:
        by_day[completion.completed_at.astimezone(zone).date()].append(completion)
    return {day: most_expensive(found) for day, found in by_day.items()}


def dollars(amount: Decimal) -> str:
    """Money as the notifier writes it for people: "$38.00", "−$96.00"."""
    return f"\u2212${-amount:.2f}" if amount < ZERO else f"${amount:.2f}"


def day_figures(day: BillingDay, account_id: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(earned, paid in fees, paid out, balance carried) of one popug's closed day."""
    totals = defaultdict(lambda: ZERO)
    for line, count in day.lines.get(account_id, Counter()).items():
        totals[line.kind] += line.amount * count
    return (
        totals["completion_reward"],
        ZERO - totals["assign_fee"],
        ZERO - totals["payout"],
        day.closing_balance(account_id),
    )


def expected_notices(
    assignments: dict[str, list[tuple[str, str | None]]],
    completions: dict[str, str],
    books: Books,
) -> Counter:
    """Every notice the notifier must have made, as (account, kind, about, detail):
    - the first assignee of each task: ("task_assigned", task, None);
    - the assignee of each completion: ("task_completed", task, None);
    - each popug a reassignment job touched: ("reassignment", job, (got, lost)), the task ids it
      got and lost in that job (a job told in parts adds up to the same);
    - each popug with a line on a closed day: ("day_closed", date, day_figures)."""
    found: Counter = Counter()
    moved: dict[tuple[str, str], tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for task_id, assigned in assignments.items():
        if assigned:
            found[(assigned[0][0], "task_assigned", task_id, None)] += 1
        for (previous, _), (assignee, job) in zip(assigned, assigned[1:], strict=False):
            if job is not None and assignee != previous:
                moved[(assignee, job)][0].add(task_id)
                moved[(previous, job)][1].add(task_id)
    for (account_id, job), (got, lost) in moved.items():
        found[(account_id, "reassignment", job, (tuple(sorted(got)), tuple(sorted(lost))))] += 1
    for task_id, assignee in completions.items():
        found[(assignee, "task_completed", task_id, None)] += 1
    for day in books.days.values():
        if day.closed:
            for account_id in day.accounts():
                found[
                    (
                        account_id,
                        "day_closed",
                        day.billing_date.isoformat(),
                        day_figures(day, account_id),
                    )
                ] += 1
    return found


def notice_key(account_id: str, notice: dict) -> tuple:
    """A notice from the notifier's API as expected_notices names it (a reassignment's part aside)."""
    details = notice["details"]
    if notice["kind"] in ("task_assigned", "task_completed"):
        return (account_id, notice["kind"], details["task_id"], None)
    if notice["kind"] == "reassignment":
        return (
            account_id,
            "reassignment",
            details["reassignment_id"],
            (tuple(sorted(details["got"])), tuple(sorted(details["lost"]))),
        )
    return (
        account_id,
        "day_closed",
        details["billing_date"],
        tuple(money(details[name]) for name in ("earned", "fees", "paid_out", "balance")),
    )


def joined_parts(keys: Iterable[tuple]) -> Counter:
    """Reassignment notices of one popug and job told in parts, as one."""
    found: Counter = Counter()
    parts: dict[tuple, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for key in keys:
        if key[1] == "reassignment":
            parts[key[:3]][0].update(key[3][0])
            parts[key[:3]][1].update(key[3][1])
        else:
            found[key] += 1
    for head, (got, lost) in parts.items():
        found[(*head, (tuple(sorted(got)), tuple(sorted(lost))))] += 1
    return found


def expected_mails(
    notices: Counter, emails: dict[str, str], labels: dict[str, str], prices: dict[str, Price]
) -> Counter:
    """The mail for every notice (task mail is on for everyone in the e2e days): (to, subject);
    reassignment mails as (to, "reassignment", "got" | "lost") counted in tasks, parts added up."""
    found: Counter = Counter()
    for (account_id, kind, about, detail), count in notices.items():
        to = emails[account_id]
        if kind == "task_assigned":
            found[(to, f"New task for you: {labels[about]}")] += count
        elif kind == "task_completed":
            reward = dollars(prices[about].completion_reward)
            found[(to, f"Completed: {labels[about]}, you earned {reward}")] += count
        elif kind == "reassignment":
            found[(to, "reassignment", "got")] += len(detail[0])
            found[(to, "reassignment", "lost")] += len(detail[1])
        else:
            _earned, _fees, paid_out, balance = detail
            found[
                (
                    to,
                    f"Your day {about}: balance carried {dollars(balance)}, paid out {dollars(paid_out)}",
                )
            ] += count
    return +found


REASSIGNMENT_SUBJECT = re.compile(
    r"Reassignment(?: \(continued\))?: you"
    r"(?: got (?P<got>[0-9]+) tasks?)?,?(?: lost (?P<lost>[0-9]+) tasks?)?$"
)


def mail_keys(to: str, subject: str) -> Counter:
    """A mail as expected_mails counts it."""
    found = REASSIGNMENT_SUBJECT.match(subject)
    if found is None:
        return Counter({(to, subject): 1})
    return +Counter(
        {
            (to, "reassignment", "got"): int(found["got"] or 0),
            (to, "reassignment", "lost"): int(found["lost"] or 0),
        }
    )


def task_label(jira_id: str | None, title: str) -> str:
    return f"{jira_id} {title}" if jira_id else title


# ---- comparisons: each returns every difference as a line for a person ----


def differences(what: str, expected: dict, actual: dict) -> list[str]:
    """Keys whose values differ, or that one side lacks."""
    found = [
        f"{what} {key}: expected {expected.get(key, '(none)')}, got {actual.get(key, '(none)')}"
        for key in sorted(set(expected) | set(actual), key=str)
        if expected.get(key) != actual.get(key)
    ]
    return _shortened(found)


def multiset_differences(what: str, expected: Counter, actual: Counter) -> list[str]:
    missing, extra = expected - actual, actual - expected
    found = [f"{what}: missing {item} x{count}" for item, count in missing.items()]
    found += [f"{what}: unexpected {item} x{count}" for item, count in extra.items()]
    return _shortened(found)


def audit_log_problems(account_id: str, day: BillingDay, transactions: list[dict]) -> list[str]:
    """The account's audit log of the day against the model: the same lines (as a multiset: events
    that raced may be applied in another order than the test made them), every balance_after the
    one before plus the amount, starting from the balance the day opened with, every line on this
    billing day, and the payout, if any, last with a balance of 0.00."""
    what = f"audit log of {account_id} on {day.billing_date}"
    found = multiset_differences(
        what,
        day.lines.get(account_id, Counter()),
        Counter(Line.from_api(transaction) for transaction in transactions),
    )
    balance = day.opening_balance(account_id)
    for number, transaction in enumerate(transactions, 1):
        amount, after = money(transaction["amount"]), money(transaction["balance_after"])
        if after != balance + amount:
            found.append(
                f"{what}, line {number}: balance {balance} {amount:+} should be {balance + amount}, "
                f"the log says {after}"
            )
        if transaction["billing_date"] != day.billing_date.isoformat():
            found.append(f"{what}, line {number}: billing_date {transaction['billing_date']}")
        if transaction["kind"] == "payout" and (number != len(transactions) or after != ZERO):
            found.append(f"{what}, line {number}: the payout is not the last line at 0.00")
        balance = after
    return _shortened(found)


def _shortened(found: list[str]) -> list[str]:
    if len(found) <= SHOWN:
        return found
    return found[:SHOWN] + [f"... and {len(found) - SHOWN} more like these"]
