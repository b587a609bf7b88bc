"""bench/analytics.py still runs (at a tiny size), so the figures in docs/analytics.md can be
measured again."""

import re

from bench import analytics as bench


def test_the_benchmark_runs_and_prints_both_ratios(capsys):
    bench.main(["--small", "300", "--large", "900", "--repeat", "3"])
    printed = capsys.readouterr().out
    assert "      300 completed tasks" in printed and "      900 completed tasks" in printed
    assert re.search(r"ratio most-expensive\s+\d+\.\d\d", printed)
    assert re.search(r"ratio summary\s+\d+\.\d\d", printed)
