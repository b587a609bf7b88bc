"""How every page writes money, times and people: one formatter each, registered as Jinja filters.

Money reads `−$96.00` / `$38.00` (a real minus sign, the dollar after it), times in the popug's
time zone with the zone's name, people by full name with the username on hover."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app, session
from markupsafe import Markup, escape

from ates import clock
from ates import money as amounts


def money(amount: str | Decimal | None) -> str:
    """`"-96.00"` → `−$96.00`, `"38"` → `$38.00` (ates/money.py's `display`); anything else as it
    came, so a page never fails."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(amount).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        return str(amount)
    return amounts.display(value)  # the notifier's words write it the same way


def money_class(amount: str | Decimal | None) -> str:
    """The CSS classes of a money cell: right-aligned, red below zero."""
    try:
        negative = Decimal(amount or 0) < 0
    except (InvalidOperation, ValueError, TypeError):
        negative = False
    return "money loss" if negative else "money"


def viewer_timezone() -> ZoneInfo:
    """The signed-in popug's own zone (mail settings) or, without one, the system's ATES_TIMEZONE."""
    chosen = session.get("timezone") if session else None
    if chosen:
        try:
            return ZoneInfo(chosen)
        except (ValueError, KeyError):
            pass
    return current_app.config["ATES"].timezone


def moment(when: str | datetime | None, form: str = "%Y-%m-%d %H:%M") -> str:
    """A wire time as a person reads it, in the viewer's zone and naming it: "2026-12-03 09:28 MSK"."""
    if not when:
        return ""
    try:
        instant = clock.from_wire(when) if isinstance(when, str) else when
        local = instant.astimezone(viewer_timezone())
    except (TypeError, ValueError):
        return str(when)
    return f"{local.strftime(form)} {local.tzname()}"


def clock_time(when: str | datetime | None) -> str:
    """Only the time of day, with the zone: for a list that is already one day's."""
    return moment(when, "%H:%M:%S")


def person(who: dict | None) -> Markup:
    """A popug by full name, the username on hover; "unknown popug" before auth's event arrives."""
    if not who:
        return Markup('<span class="person unknown">unknown popug</span>')
    name = who.get("full_name") or who.get("username")
    if not name:
        return Markup('<span class="person unknown">unknown popug</span>')
    username = who.get("username")
    hover = f' title="{escape(username)}"' if username else ""
    return Markup(f'<span class="person"{hover}>{escape(name)}</span>')


def name_of(who: dict | None) -> str:
    """The plain-text name, for a flash message."""
    if not who:
        return "an unknown popug"
    return who.get("full_name") or who.get("username") or "an unknown popug"


def task_label(task: dict | None) -> str:
    """A task as people call it: "UBERPOP-42 Paint the perch", or its title alone."""
    if not task:
        return "an unknown task"
    title = task.get("title") or "an unknown task"
    return f"{task['jira_id']} {title}" if task.get("jira_id") else title


def init_app(app) -> None:
    for function in (money, money_class, moment, clock_time, person, task_label):
        app.add_template_filter(function)
