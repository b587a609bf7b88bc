"""bench.http's arithmetic: what it reads from wrk, and the medians of alternating rounds."""

import pytest

from bench.http import parse_wrk, summary

WRK = """Running 5s test @ http://127.0.0.1:1234/api/tasks
  Latency Distribution
     50%    9.01ms
     75%   12.30ms
     90%   20.11ms
     99%  850.00us
  1700 requests in 5.00s, 1.2MB read
Requests/sec:    340.25
Transfer/sec:    245.1KB
"""


def test_rate_and_p99_in_ms_whatever_unit_wrk_chose():
    assert parse_wrk(WRK) == {"rps": 340.25, "p99": pytest.approx(0.85)}
    assert parse_wrk(WRK.replace("850.00us", "1.50s"))["p99"] == 1500.0


def test_non_2xx_answers_make_the_run_worthless():
    with pytest.raises(RuntimeError, match="3 answers were not 2xx"):
        parse_wrk(WRK + "  Non-2xx or 3xx responses: 3\n")


def test_the_ratio_is_the_median_of_each_rounds_ratio():
    runs = {
        "tracker": [{"rps": 100, "p99": 5}, {"rps": 50, "p99": 9}, {"rps": 90, "p99": 7}],
        "bare": [{"rps": 200, "p99": 2}, {"rps": 50, "p99": 3}, {"rps": 300, "p99": 4}],
    }
    got = summary(runs)
    assert got["ratio"] == 0.5  # rounds: 0.5, 1.0, 0.3
    assert got["spread"] == (0.3, 1.0)
    assert got["tracker"] == {"rps": 90, "p99": 7}
    assert got["bare"] == {"rps": 200, "p99": 3}
