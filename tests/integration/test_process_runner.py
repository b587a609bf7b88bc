"""bin/up's process runner: the Procfile under supervisord restarts a killed process and stops all."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ates.processes import read_procfile, supervisord_config
from tests.conftest import eventually

SUPERVISORD = Path(sys.executable).parent / "supervisord"


def test_procfile_lines_become_programs_in_order(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "# comment\nweb: exec gunicorn --bind 127.0.0.1:${PORT:-5000} 'app:create_app()'\n\n"
        "worker: exec python -m worker\n"
    )
    processes = read_procfile(procfile)
    assert list(processes) == ["web", "worker"]
    config = supervisord_config(processes, tmp_path, tmp_path)
    assert config.index("[program:web]") < config.index("[program:worker]")
    assert "autorestart=true" in config


def test_a_line_without_a_name_is_refused_with_its_line_number(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: exec true\nnothing here\n")
    with pytest.raises(ValueError, match=r"Procfile:2"):
        read_procfile(procfile)


def test_a_killed_process_is_started_again_and_sigint_stops_everything(tmp_path):
    pids = tmp_path / "pids"
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"sleeper: echo $$ >> {pids}; exec sleep 600\n")
    conf = tmp_path / "run" / "supervisord.conf"
    subprocess.run(
        [sys.executable, "-m", "ates.processes", str(conf), "--procfile", str(procfile)], check=True
    )
    runner = subprocess.Popen(
        [str(SUPERVISORD), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        eventually(
            lambda: pids.exists() and pids.read_text().strip(), message="the process to start"
        )
        first = int(pids.read_text().split()[0])
        os.kill(first, signal.SIGKILL)
        eventually(
            lambda: len(pids.read_text().split()) == 2,
            timeout=15,
            message="the runner to restart it",
        )
        second = int(pids.read_text().split()[1])
        assert second != first and _alive(second)
        os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C in the terminal
        runner.wait(timeout=30)
        time.sleep(0.2)
        assert not _alive(second), "the runner's children stop with it"
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
