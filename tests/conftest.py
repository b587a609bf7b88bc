"""Fixtures for every test level."""
import time

import pytest


def eventually(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Wait until predicate() is truthy and return its value; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
