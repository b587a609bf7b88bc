"""Every entry point imports in a fresh interpreter: an import cycle that the test session's own
import order hides (ates.config <-> ates.bus) still breaks `flask --app auth.app migrate`."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = [
    "ates.config",
    "ates.bus.users",
    "ates.bus.provision",
    "ates.production",
    "auth.app",
    "tracker.app",
    "accounting.app",
    "analytics.app",
    "gateway.app",
    "auth.worker",
    "tracker.worker",
    "accounting.worker",
    "analytics.worker",
    "accounting.scheduler",
    "cli.main",
]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_an_entry_point_imports_on_its_own(module):
    imported = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr
