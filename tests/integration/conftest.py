"""Integration fixtures: the probe service, its database, its relay and consumer as processes."""

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailsink import MailSink
from tests.apps import resource_app
from tests.databases import postgres_database
from tests.issuer import StandInIssuer
from tests.probe import Probe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def issuer():
    """The stand-in SSO whose tokens every `service_app` accepts."""
    return StandInIssuer()


@pytest.fixture
def service_app(tmp_path, issuer):
    """`service_app("tracker", **env)`: the service's app, migrated, in the test's own folder."""
    return lambda name, **env: resource_app(name, tmp_path, issuer, **env)


@pytest.fixture
def app_on(service_app):
    """`app_on("sqlite" | "postgresql", "tracker")`: a service_app on a SQLite file or on a fresh
    PostgreSQL database of its own (dropped afterwards), for tests that run on both."""
    with contextlib.ExitStack() as stack:

        def make(database: str, name: str):
            if database == "sqlite":
                return service_app(name)
            url = stack.enter_context(postgres_database(f"test_{name}"))
            app = service_app(name, **{f"{name.upper()}_DATABASE_URL": url})
            stack.callback(app.extensions["ates.uow"].dispose)
            return app

        yield make


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sink(tmp_path):
    """A real SMTP server on a free loopback port, storing into a Maildir of the test's own:
    (port, maildir)."""
    port = free_port()
    server = MailSink(tmp_path / "mail", "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while True:  # listening before the test mails
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield port, tmp_path / "mail"
    server.stop()
    thread.join(10)


@pytest.fixture
def client(app):
    """A test client of the module's `app` fixture."""
    return app.test_client()


@pytest.fixture
def probe(tmp_path, broker):
    return Probe(f"sqlite:///{tmp_path / 'probe.db'}", probe_urls(broker))


def probe_urls(broker) -> dict[str, str]:
    """The probe's relay publishes as the tracker, its consumer reads as `probe`."""
    return {name: broker.url(name) for name in ("tracker", "probe")}


@pytest.fixture
def start():
    """Runs relays and consumers on threads of the test; stops and joins them afterwards."""
    running = []

    def start_part(part):
        thread = threading.Thread(target=part.run, daemon=True)
        thread.start()
        running.append((part, thread))
        return part

    yield start_part
    for part, _thread in running:
        part.stop()
    for part, thread in running:
        thread.join(timeout=30)
        assert not thread.is_alive(), f"{type(part).__name__} did not stop"


class ProbeProcess:
    def __init__(self, role: str, database_url: str, amqp_urls: dict[str, str], log_path: Path):
        self.args = [sys.executable, "-m", "tests.probe", role, database_url, json.dumps(amqp_urls)]
        self.log_path = log_path
        self.process = None

    def start(self) -> "ProbeProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def spawn(tmp_path, broker):
    """Starts the probe's relay, consumer or both as a real process of its own."""
    processes = []

    def spawn_process(role: str, database_url: str) -> ProbeProcess:
        process = ProbeProcess(
            role, database_url, probe_urls(broker), tmp_path / f"{role}.log"
        ).start()
        processes.append(process)
        return process

    yield spawn_process
    for process in processes:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()
