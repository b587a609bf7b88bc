"""End-to-end fixtures: RabbitMQ nodes of the tests' own, for the tests that restart or kill them.

The shared broker carries every other test's virtual host, so restarting it would break whatever
runs beside; nodes of the same installed RabbitMQ (own names, ports, distribution ports and data,
only the management plugin on a port of its own, for provisioning the services' users) are
restarted instead, as often as a test likes: one (`private_broker`), or three clustered
(`private_cluster`).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.conftest import ADMIN, Broker, eventually
from tests.e2e.system import free_port


class RabbitNode:
    """One RabbitMQ node under `base`: its own name, AMQP, distribution and management ports."""

    def __init__(self, name: str, base: Path):
        self.name, self.base = f"{name}@localhost", base
        self.port, self.management_port = free_port(), free_port()
        base.mkdir(parents=True)
        (base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (base / "rabbitmq.conf").write_text(
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
        )
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        }
        # the server runs as the rabbitmq user, who must be able to write there
        if os.geteuid() == 0:
            for path in (base.parent, base, *base.iterdir()):  # the parent: a mkdtemp of 0700
                shutil.chown(path, "rabbitmq", "rabbitmq")

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    @property
    def management_url(self) -> str:
        return f"http://localhost:{self.management_port}"

    def ctl(self, *args: str, timeout: float = 120) -> str:
        return subprocess.run(
            ["rabbitmqctl", "--quiet", "-n", self.name, *args],
            check=True,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        ).stdout

    def start(self) -> None:
        """The Erlang VM with the broker in it, detached; `wait` waits until it runs."""
        subprocess.run(
            ["rabbitmq-server", "-detached"],
            env=self.env,
            check=True,
            capture_output=True,
            cwd=self.base,
        )

    def wait(self) -> None:
        eventually(self._started, timeout=120, interval=0.5, message=f"RabbitMQ node {self.name}")

    def kill(self) -> int:
        """SIGKILL the node's Erlang VM, as a machine that loses power would; returns its pid."""
        pid = int((self.base / "node.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: not _alive(pid), timeout=30, message=f"{self.name} to die")
        return pid

    def shutdown(self) -> None:
        try:
            self.ctl("shutdown", timeout=60)
        except subprocess.SubprocessError:
            pid_file = self.base / "node.pid"
            if pid_file.exists():  # a node that does not answer any more goes the hard way
                try:
                    os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass

    def _started(self) -> bool:
        try:
            self.ctl("await_startup", "--timeout", "5", timeout=30)
        except subprocess.SubprocessError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PrivateBroker(Broker):
    """A RabbitMQ node on its own port; its default virtual host is the test's."""

    def __init__(self, node: RabbitNode):
        super().__init__("/", host=node.host, management_url=node.management_url)
        self.rabbit = node
        self.node, self.port, self.node_env = node.name, node.port, node.env
        self.restarts = 0

    def ctl(self, *args: str, timeout: float = 120) -> str:
        return self.rabbit.ctl(*args, timeout=timeout)

    def close_all_connections(self) -> None:
        self.ctl("close_all_connections", "test: the broker drops everyone")

    def restart(self, down_for: float = 3.0) -> None:
        """Stop the broker application, leave it down `down_for` seconds, start it again and wait for it."""
        self.ctl("stop_app")
        time.sleep(down_for)
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "120")
        self.restarts += 1


class PrivateCluster(Broker):
    """Three clustered RabbitMQ nodes; `amqp_url` lists them all, in order, as ATES_AMQP_URL does."""

    def __init__(self, nodes: list[RabbitNode]):
        super().__init__("/", host=nodes[0].host, management_url=nodes[0].management_url)
        self.nodes = nodes
        self.amqp_url = ",".join(
            f"amqp://{ADMIN[0]}:{ADMIN[1]}@{node.host}/{quote('/', safe='')}" for node in nodes
        )

    def members(self) -> list[str]:
        """The nodes running, as the first node still up sees them."""
        for node in self.nodes:
            try:
                status = node.ctl("cluster_status", "--formatter", "json", timeout=30)
                return json.loads(status)["running_nodes"]
            except subprocess.SubprocessError:
                continue
        return []


@pytest.fixture(scope="module")
def private_broker():
    _need_rabbitmq()
    base = Path(tempfile.mkdtemp(prefix="ates-rabbit-"))
    node = RabbitNode(f"ates-e2e-{uuid.uuid4().hex[:8]}", base / "node")
    broker = PrivateBroker(node)
    node.start()
    try:
        node.wait()
        _wait_for_management(node)
        yield broker.provision()
    finally:
        node.shutdown()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def private_cluster():
    """Three nodes started side by side, the second and third joined to the first, users provisioned."""
    _need_rabbitmq()
    base = Path(tempfile.mkdtemp(prefix="ates-cluster-"))
    tag = uuid.uuid4().hex[:8]
    nodes = [RabbitNode(f"ates-e2e-{tag}-{n}", base / f"node{n}") for n in (1, 2, 3)]
    try:
        for node in nodes:
            node.start()
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(RabbitNode.wait, nodes))
        for node in nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", nodes[0].name)
            node.ctl("start_app")
            node.wait()
        cluster = PrivateCluster(nodes)
        assert len(cluster.members()) == 3, f"the three nodes form one cluster: {cluster.members()}"
        _wait_for_management(nodes[0])
        yield cluster.provision()
    finally:
        for node in reversed(nodes):
            node.shutdown()
        shutil.rmtree(base, ignore_errors=True)


def _need_rabbitmq() -> None:
    if shutil.which("rabbitmq-server") is None:
        pytest.fail("this test needs rabbitmq-server to start nodes of its own")


def _wait_for_management(node: RabbitNode) -> None:
    eventually(
        lambda: _answers(f"{node.management_url}/api"),
        timeout=60,
        interval=0.5,
        message=f"the management API of {node.name}",
    )


def _answers(api: str) -> bool:
    try:
        return requests.get(f"{api}/overview", auth=ADMIN, timeout=5).status_code == 200
    except requests.RequestException:
        return False
