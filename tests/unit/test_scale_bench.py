"""bench/scale.py's arithmetic: rates from counts and seconds, the best of each set-up, ratios of
two processes to one, and the order of the measurements."""

import pytest

from bench.scale import RELAY_ROUNDS, Measurement, measurement_order, report


def measured(processes: int, consuming_s: float, seconds_a_round: float) -> Measurement:
    """4,000 events consumed; an outbox of 2,000 rows published again (median round given)."""
    return Measurement(
        processes=processes,
        consumed=4_000,
        consuming_s=consuming_s,
        published=2_000,
        publishing_s=seconds_a_round,
        lock_waits=0.25 * (processes - 1),
        deadlocks=processes - 1,
        busy=0.5 * processes,
        relays_publishing=1,
    )


def test_rates_are_events_over_seconds():
    one = measured(1, consuming_s=10.0, seconds_a_round=0.5)
    assert one.consumer_rate == 400.0 and one.relay_rate == pytest.approx(4_000.0)


def test_the_report_compares_the_best_of_each_set_up():
    ones = [measured(1, 10.0, 0.5), measured(1, 20.0, 1.0)]
    twos = [measured(2, 16.0, 0.625), measured(2, 8.0, 2.0)]
    lines = report(ones, twos)
    assert lines[0].startswith("events:    4000 tracker events in; their 2000 accounting events")
    assert lines[0].endswith(f"{RELAY_ROUNDS} times (median); best of 2 and 2")
    assert "400 events/s with 1 worker" in lines[1] and "500 with 2  -> ratio 1.25" in lines[1]
    assert "(all: 400/200 and 250/500)" in lines[1]
    assert "25% of the samples (0% with 1), deadlocks 1 (0)" in lines[2]
    assert "worker CPU 1.00 cores (0.50)" in lines[2]
    assert "4000 events/s with 1 relay" in lines[3] and "3200 with 2  -> ratio 0.80" in lines[3]
    assert "(all: 4000/2000 and 3200/1000;" in lines[3]


def test_both_set_ups_are_measured_early_and_late_in_the_run():
    assert measurement_order(1) == [1, 2]
    assert measurement_order(2) == [1, 2, 2, 1]
    assert measurement_order(3) == [1, 2, 2, 1, 1, 2]
