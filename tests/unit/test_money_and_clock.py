"""Money and time on the wire: two-place Decimal strings, RFC 3339 UTC ending in Z."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ates import clock, money


@pytest.mark.parametrize(
    "amount, wire",
    [
        (Decimal("12"), "12.00"),
        (Decimal("12.5"), "12.50"),
        (Decimal("-5"), "-5.00"),
        (Decimal("0.01"), "0.01"),
    ],
)
def test_money_goes_on_the_wire_with_two_places(amount, wire):
    assert money.to_wire(amount) == wire


@pytest.mark.parametrize("not_decimal", [12.0, 12, "12.00"])
def test_money_to_wire_refuses_anything_but_a_decimal(not_decimal):
    with pytest.raises(TypeError):
        money.to_wire(not_decimal)


@pytest.mark.parametrize(
    "wire, amount",
    [("12.00", Decimal("12.00")), ("-5.00", Decimal("-5.00")), ("7", Decimal("7.00"))],
)
def test_money_from_wire_reads_a_string_amount(wire, amount):
    assert money.from_wire(wire) == amount
    assert money.from_wire(wire).as_tuple().exponent == -2


@pytest.mark.parametrize("not_string", [12.0, 12, None, Decimal("12.00")])
def test_money_from_wire_refuses_anything_but_a_string(not_string):
    with pytest.raises(TypeError):
        money.from_wire(not_string)


@pytest.mark.parametrize(
    "text",
    [
        "12.345",
        "abc",
        "",
        "NaN",
        "Infinity",
    ],
)
def test_money_from_wire_refuses_what_is_not_an_amount(text):
    with pytest.raises(ValueError):
        money.from_wire(text)


def test_aware_time_goes_on_the_wire_ending_in_z():
    assert clock.to_wire(datetime(2026, 3, 1, 10, 15, tzinfo=UTC)) == "2026-03-01T10:15:00Z"


def test_time_in_another_zone_is_converted_to_utc():
    moscow = timezone(timedelta(hours=3))
    assert clock.to_wire(datetime(2026, 3, 1, 13, 15, tzinfo=moscow)) == "2026-03-01T10:15:00Z"
    assert clock.from_wire("2026-03-01T13:15:00+03:00") == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert clock.from_wire("2026-03-01T13:15:00+03:00").utcoffset() == timedelta(0)


def test_naive_time_is_refused_on_the_way_out():
    with pytest.raises(ValueError, match="naive"):
        clock.to_wire(datetime(2026, 3, 1, 10, 15))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 10, 15, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 15, 0, 123456, tzinfo=UTC),
    ],
)
def test_time_round_trips_through_the_wire(moment):
    assert clock.from_wire(clock.to_wire(moment)) == moment


def test_utcnow_is_aware_utc():
    assert clock.utcnow().utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2026-03-01T10:15:00", "2026-03-01"])
def test_time_without_offset_is_refused_on_the_way_in(text):
    with pytest.raises(ValueError, match="without offset"):
        clock.from_wire(text)
