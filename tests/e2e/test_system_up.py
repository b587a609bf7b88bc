"""The README's first command, as a user runs it: every process up, topology declared, Ctrl-C stops all."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import eventually
from tests.e2e.system import free_port, free_side_ports, healthy

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "auth", "tracker", "accounting", "analytics", "notifier")
WORKERS = ("auth", "tracker", "accounting", "analytics", "notifier")
PRODUCERS = ("auth", "tracker", "accounting")


@pytest.fixture
def system(tmp_path, broker):
    ports = {service: free_port() for service in SERVICES}
    # the administrator's URL, as a developer's ATES_AMQP_URL is: bin/up makes the users (with the test's
    # own prefix) and keeps their passwords under the var dir
    env = {
        **os.environ,
        "ATES_VAR_DIR": str(tmp_path / "var"),
        "ATES_AMQP_URL": broker.amqp_url,
        "ATES_AMQP_USER_PREFIX": broker.prefix,
        "ATES_RABBITMQ_MANAGEMENT_URL": broker.env()["ATES_RABBITMQ_MANAGEMENT_URL"],
        **free_side_ports(),  # the SMTP sink's and the workers' metrics ports, as the web ports
    }
    env.update({f"ATES_{service.upper()}_PORT": str(port) for service, port in ports.items()})
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", "bin/up"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    yield process, urls, log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_bin_up_starts_every_process_and_ctrl_c_stops_them_all(system, broker, tmp_path):
    process, urls, log_path = system
    for service, url in urls.items():
        eventually(lambda: healthy(url), timeout=180, interval=0.5, message=f"{service} /healthz")
    for service in WORKERS:
        assert (tmp_path / "var" / f"{service}.db").exists(), (
            f"{service} has its own migrated database"
        )
    eventually(
        lambda: all(
            f"relay holds the lease; publishing to {p}.events" in log_path.read_text()
            for p in PRODUCERS
        ),
        message="every producer's relay connected",
    )
    with broker.channel() as channel:
        for producer in PRODUCERS:
            channel.exchange_declare(f"{producer}.events", passive=True)  # raises if it is missing
    workers = {broker.user(service) for service in WORKERS}
    eventually(
        lambda: {c["user"] for c in broker.admin.connections(broker.vhost)} == workers,
        timeout=30,
        interval=0.5,
        message="every worker on the broker as its own user, none as guest",
    )
    for service in (*WORKERS, "operator"):
        password = tmp_path / "var" / "broker" / f"{broker.user(service)}.password"
        assert password.stat().st_mode & 0o077 == 0, f"{password} is readable by others"
    front_page = requests.get(urls["gateway"], timeout=5).text
    assert front_page.count(">up<") == 5, front_page

    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
    process.wait(timeout=60)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of the group is left running
    for service, url in urls.items():
        assert not healthy(url), f"{service} still answers after Ctrl-C"
    log = log_path.read_text()
    assert "received SIGINT" in log and "Traceback" not in log, log[-3000:]
    assert "not expected" not in log, "no process died on its own while the system ran"
