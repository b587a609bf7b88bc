"""bench.latency's arithmetic: nearest-rank percentiles, always one of the measured values."""

import pytest

from bench.latency import percentile


def test_nearest_rank_percentiles():
    values = [float(n) for n in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(list(reversed(values)), 95) == 95.0


def test_few_values_round_up_to_a_measured_one():
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 1) == 7.0


def test_no_values_is_an_error_not_a_number():
    with pytest.raises(ValueError):
        percentile([], 50)
