"""Fixtures for every test level: waiting for a condition, a throw-away RabbitMQ virtual host."""
import json
import os
import subprocess
import time
import uuid
from contextlib import contextmanager

import pika
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

    def peek_all(self, queue: str) -> list[dict]:
        """The JSON bodies in a queue, in order; they stay there (nothing is acked)."""
        with self.channel() as channel:
            bodies = []
            while True:
                method, _properties, body = channel.basic_get(queue, auto_ack=False)
                if method is None:
                    return [json.loads(b) for b in bodies]
                bodies.append(body)

    def take_all(self, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
        messages = []
        with self.channel() as channel:
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return messages
                messages.append((properties, body))


@contextmanager
def _throw_away_vhost():
    vhost = f"ates-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield Broker(vhost)
    finally:
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def broker():
    with _throw_away_vhost() as found:
        yield found


@pytest.fixture(scope="module")
def broker_for_module():
    """One virtual host for a module whose tests share a running system."""
    with _throw_away_vhost() as found:
        yield found
