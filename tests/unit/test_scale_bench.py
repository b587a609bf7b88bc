"""bench/scale.py's arithmetic: rates from counts and seconds, ratios of two processes to one."""

import pytest

from bench.scale import RELAY_ROUNDS, Measurement, report


def measured(processes: int, consuming_s: float, seconds_a_round: float) -> Measurement:
    """4,000 events consumed; an outbox of 2,000 rows published again RELAY_ROUNDS times."""
    return Measurement(
        processes=processes,
        consumed=4_000,
        consuming_s=consuming_s,
        published=RELAY_ROUNDS * 2_000,
        publishing_s=RELAY_ROUNDS * seconds_a_round,
        lock_waits=0.25 * (processes - 1),
        deadlocks=processes - 1,
        busy=0.5 * processes,
        relays_publishing=1,
    )


def test_rates_are_events_over_seconds():
    one = measured(1, consuming_s=10.0, seconds_a_round=0.5)
    assert one.consumer_rate == 400.0 and one.relay_rate == pytest.approx(4_000.0)


def test_the_report_gives_each_rate_and_the_ratio_of_two_processes_to_one():
    lines = report(measured(1, 10.0, 0.5), measured(2, 8.0, 0.625))
    assert lines[0].startswith("events:    4000 tracker events in; their 2000 accounting events")
    assert "400 events/s with 1 worker" in lines[1] and "500 with 2  -> ratio 1.25" in lines[1]
    assert "25% of the samples with 2, 0% with 1; deadlocks 1 and 0" in lines[1]
    assert "0.50 cores with 1, 1.00 with 2" in lines[2]
    assert "4000 events/s with 1 relay" in lines[3] and "3200 with 2  -> ratio 0.80" in lines[3]
    assert "relays that published: 1 and 1" in lines[3]
