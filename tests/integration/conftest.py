"""Integration fixtures: a real RabbitMQ virtual host per test, temporary databases, processes."""
import os
import signal
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pika
import pytest

from tests.probe import Probe

ROOT = Path(__file__).resolve().parents[2]
BROKER_HOST = os.environ.get("ATES_TEST_AMQP_HOST", "localhost:5672")


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "--quiet", *args], check=True, capture_output=True, text=True).stdout


class Broker:
    """A throw-away virtual host on the real broker, and the means to look into it."""

    def __init__(self, vhost: str):
        self.vhost = vhost
        self.amqp_url = f"amqp://guest:guest@{BROKER_HOST}/{vhost}"

    @contextmanager
    def channel(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            yield connection.channel()
        finally:
            connection.close()

    def close_all_connections(self) -> None:
        rabbitmqctl("close_all_connections", "--vhost", self.vhost, "test: the broker drops everyone")

    def publish_raw(self, exchange: str, routing_key: str, body: bytes) -> None:
        with self.channel() as channel:
            channel.confirm_delivery()
            channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(delivery_mode=2))

    def message_count(self, queue: str) -> int:
        with self.channel() as channel:
            return channel.queue_declare(queue, passive=True).method.message_count

    def take_all(self, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
        messages = []
        with self.channel() as channel:
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return messages
                messages.append((properties, body))


@pytest.fixture
def broker():
    vhost = f"ates-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield Broker(vhost)
    rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def probe(tmp_path, broker):
    return Probe(f"sqlite:///{tmp_path / 'probe.db'}", broker.amqp_url)


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
    for part, thread in running:
        part.stop()
    for part, thread in running:
        thread.join(timeout=30)
        assert not thread.is_alive(), f"{type(part).__name__} did not stop"


class ProbeProcess:
    def __init__(self, role: str, database_url: str, amqp_url: str, log_path: Path):
        self.args = [sys.executable, "-m", "tests.probe", role, database_url, amqp_url]
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
        process = ProbeProcess(role, database_url, broker.amqp_url, tmp_path / f"{role}.log").start()
        processes.append(process)
        return process

    yield spawn_process
    for process in processes:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()
