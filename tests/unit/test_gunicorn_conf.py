"""gunicorn.conf.py: the process count comes from configuration, and several processes share metrics."""

import os
import runpy
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def conf(monkeypatch, **env) -> dict:
    for name in ("WEB_CONCURRENCY", "ATES_WEB_THREADS", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.setenv(name, "")  # recorded, so what the hooks set is undone after the test
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_process_count_comes_from_web_concurrency(monkeypatch):
    assert conf(monkeypatch, WEB_CONCURRENCY="3")["workers"] == 3


def test_without_it_one_process_per_core(monkeypatch):
    assert conf(monkeypatch)["workers"] == (os.cpu_count() or 1)


def test_threads_serve_the_waits(monkeypatch):
    assert conf(monkeypatch)["worker_class"] == "gthread"
    assert conf(monkeypatch)["threads"] == 4
    assert conf(monkeypatch, ATES_WEB_THREADS="8")["threads"] == 8


def test_several_processes_get_a_fresh_metrics_directory_removed_at_exit(monkeypatch):
    hooks = conf(monkeypatch)
    server = SimpleNamespace(cfg=SimpleNamespace(workers=2))
    hooks["on_starting"](server)
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir() and not any(made.iterdir())
    hooks["on_exit"](server)
    assert not made.exists()


def test_one_process_or_an_operators_directory_is_left_alone(monkeypatch, tmp_path):
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # the test before did not leak it
    hooks = conf(monkeypatch)
    hooks["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=1)))
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    hooks = conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    server = SimpleNamespace(cfg=SimpleNamespace(workers=4))
    hooks["on_starting"](server)
    hooks["on_exit"](server)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path) and tmp_path.is_dir()
