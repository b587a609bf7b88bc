"""End-to-end fixtures: a RabbitMQ node of the test's own, for the test that restarts its broker.

The shared broker carries every other test's virtual host, so restarting it would break whatever
runs beside; a second node of the same installed RabbitMQ (own ports, own data, only the management plugin on
a port of its own, for provisioning the services' users) is restarted instead, as often as the
test likes.
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import ADMIN, Broker, eventually
from tests.e2e.system import free_port


class PrivateBroker(Broker):
    """A RabbitMQ node on its own port; its default virtual host is the test's."""

    def __init__(self, node: str, port: int, management_port: int, env: dict[str, str]):
        super().__init__(
            "/", host=f"localhost:{port}", management_url=f"http://localhost:{management_port}"
        )
        self.node, self.port, self.node_env = node, port, env
        self.restarts = 0

    def ctl(self, *args: str, timeout: float = 120) -> str:
        return subprocess.run(
            ["rabbitmqctl", "--quiet", "-n", self.node, *args],
            check=True,
            capture_output=True,
            text=True,
            env=self.node_env,
            timeout=timeout,
        ).stdout

    def close_all_connections(self) -> None:
        self.ctl("close_all_connections", "test: the broker drops everyone")

    def restart(self, down_for: float = 3.0) -> None:
        """Stop the broker application, leave it down `down_for` seconds, start it again and wait for it."""
        self.ctl("stop_app")
        time.sleep(down_for)
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "120")
        self.restarts += 1


@pytest.fixture(scope="module")
def private_broker():
    if shutil.which("rabbitmq-server") is None:
        pytest.fail("the chaos test needs rabbitmq-server to start a node of its own")
    node = f"ates-e2e-{uuid.uuid4().hex[:8]}@localhost"
    port, management_port = free_port(), free_port()
    base = Path(tempfile.mkdtemp(prefix="ates-rabbit-"))
    (base / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (base / "rabbitmq.conf").write_text(
        f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {management_port}\n"
    )
    env = {
        **os.environ,
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "node.pid"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
    }
    if os.geteuid() == 0:  # the server runs as the rabbitmq user, who must be able to write there
        shutil.chown(base, "rabbitmq", "rabbitmq")
        for path in base.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")
    broker = PrivateBroker(node, port, management_port, env)
    subprocess.run(
        ["rabbitmq-server", "-detached"], env=env, check=True, capture_output=True, cwd=base
    )
    try:
        eventually(
            lambda: _started(broker),
            timeout=120,
            interval=0.5,
            message=f"RabbitMQ node {node} to start",
        )
        eventually(
            lambda: _answers(broker.admin.base),
            timeout=60,
            interval=0.5,
            message="its management API",
        )
        yield broker.provision()
    finally:
        try:
            broker.ctl("shutdown")
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(base, ignore_errors=True)


def _answers(api: str) -> bool:
    try:
        return requests.get(f"{api}/overview", auth=ADMIN, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _started(broker: PrivateBroker) -> bool:
    try:
        broker.ctl("await_startup", "--timeout", "5", timeout=30)
    except subprocess.SubprocessError:
        return False
    return True
