"""The dashboard's questions, answered from the read models. Each touches days and accounts,
never the tasks one by one, so it costs the same however long the history grows."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from analytics import domain
from analytics.models import account_balances, daily_income, daily_top_task, task_details

ZERO = Decimal("0.00")


def summary(session, day: date) -> dict:
    """A day's management income, and how many popugs are below zero right now."""
    income = session.scalar(
        select(daily_income.c.management_income).where(daily_income.c.day == day)
    )
    negative = session.scalar(
        select(func.count()).select_from(account_balances).where(account_balances.c.balance < 0)
    )
    return {
        "date": day,
        "management_income": ZERO if income is None else income,
        "negative_balances": negative,
    }


def most_expensive_task(session, first: date, last: date) -> dict:
    """The most expensive task of each day of the range (None for a day without completions) and of
    the range."""
    query = (
        select(
            daily_top_task.c.day,
            daily_top_task.c.task_id,
            daily_top_task.c.reward,
            daily_top_task.c.completed_at,
            task_details.c.jira_id,
            task_details.c.title,
        )
        .outerjoin(task_details, task_details.c.task_id == daily_top_task.c.task_id)
        .where(daily_top_task.c.day.between(first, last))
    )
    tops = {
        row.day: domain.CompletedTask(
            row.task_id, row.reward, row.completed_at, row.jira_id, row.title
        )
        for row in session.execute(query)
    }
    return {
        "from": first,
        "to": last,
        "task": domain.most_expensive(tops.values()),
        "by_day": [{"date": day, "task": tops.get(day)} for day in domain.days_in(first, last)],
    }


def income_by_day(session, first: date, last: date) -> dict:
    """Management income of every day of the range; a day without transactions earned 0.00."""
    query = select(daily_income.c.day, daily_income.c.management_income).where(
        daily_income.c.day.between(first, last)
    )
    found = dict(session.execute(query).all())
    return {
        "from": first,
        "to": last,
        "days": [
            {"date": day, "management_income": found.get(day, ZERO)}
            for day in domain.days_in(first, last)
        ],
    }
