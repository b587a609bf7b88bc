"""One way to write money, times and people on every gateway page (gateway/formatting.py)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ates.config import load_settings
from gateway import formatting
from gateway.app import create_app


@pytest.mark.parametrize(
    "amount, shown",
    [
        ("-96.00", "\u2212$96.00"),
        ("38", "$38.00"),
        (Decimal("0.00"), "$0.00"),
        ("-0.00", "$0.00"),  # no negative zero
        ("1234567.5", "$1234567.50"),
        ("nonsense", "nonsense"),
        (None, ""),
    ],
)
def test_money_reads_with_a_real_minus_before_the_dollar(amount, shown):
    assert formatting.money(amount) == shown


def test_money_cells_are_right_aligned_and_red_below_zero():
    assert formatting.money_class("-0.01") == "money loss"
    assert formatting.money_class("0.00") == formatting.money_class("x") == "money"


def test_times_are_shown_in_the_viewers_zone_with_its_name():
    app = create_app(load_settings("gateway", {"ATES_TIMEZONE": "Europe/Moscow"}))
    when = datetime(2026, 12, 3, 6, 28, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    with app.test_request_context("/"):
        assert formatting.moment(when) == "2026-12-03 09:28 MSK"
        assert formatting.clock_time(when) == "09:28:00 MSK"
        assert formatting.moment("yesterday-ish") == "yesterday-ish"


def test_people_by_full_name_with_the_username_on_hover_and_escaped():
    shown = formatting.person({"full_name": "Kesha <b>", "username": "kesha"})
    assert str(shown) == '<span class="person" title="kesha">Kesha &lt;b&gt;</span>'
    assert "unknown popug" in formatting.person({"account_id": "x", "full_name": None})
    assert formatting.task_label({"jira_id": "UBERPOP-1", "title": "Feed"}) == "UBERPOP-1 Feed"
