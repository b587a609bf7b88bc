"""Fixtures for every test level: waiting for a condition, a throw-away RabbitMQ virtual host."""

import json
import logging
import os
import secrets
import subprocess
import time
import uuid
from contextlib import contextmanager
from urllib.parse import quote

import pika
import pytest

from ates.bus.nodes import BrokerNodes
from ates.bus.provision import BrokerAdmin, provision
from ates.bus.users import OPERATOR, SERVICES, Permissions, user_name, with_credentials


@pytest.fixture(autouse=True)
def _root_logging_restored():
    """Logging as it was before each test: a test that runs a process's main() (the scheduler's,
    a worker's) configures the root logger for JSON on stderr, which a later test's capsys then
    read (seen in unit-after-integration order)."""
    root, pika_logger = logging.getLogger(), logging.getLogger("pika")
    handlers, level, pika_level = list(root.handlers), root.level, pika_logger.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    pika_logger.setLevel(pika_level)


def eventually(
    predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"
):
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
MANAGEMENT_URL = os.environ.get("ATES_TEST_MANAGEMENT_URL", "http://localhost:15672")
ADMIN = ("guest", "guest")  # the broker's administrator: only tests and provisioning use it
# The bus tests' own consumer (tests/probe.py) reads the tracker's exchange like a service would.
TEST_CONSUMERS = {"probe": ("tracker",)}


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "--quiet", *args], check=True, capture_output=True, text=True
    ).stdout


class Broker:
    """A throw-away virtual host on the real broker, its own users, and the means to look into it.

    `amqp_url` is the administrator's (tests look into queues and forge messages with it); each
    service connects as its own user: `url(service)`, or `env()` for a process's environment."""

    def __init__(self, vhost: str, host: str = BROKER_HOST, management_url: str = MANAGEMENT_URL):
        self.vhost = vhost
        self.amqp_url = f"amqp://{ADMIN[0]}:{ADMIN[1]}@{host}/{quote(vhost, safe='')}"
        self.admin = BrokerAdmin(management_url, *ADMIN)
        self.prefix = f"ates-test-{uuid.uuid4().hex[:10]}-"
        self.passwords: dict[str, str] = {}

    def provision(self) -> "Broker":
        """Every service's user, the operator's and the test consumers', with their permissions."""
        names = (*SERVICES, OPERATOR, *TEST_CONSUMERS)
        self.passwords = {name: secrets.token_urlsafe(16) for name in names}
        provision(self.admin, self.vhost, self.passwords, self.prefix, extra_users=TEST_CONSUMERS)
        return self

    def drop_users(self) -> None:
        self.admin.delete_users([self.user(name) for name in self.passwords])

    def user(self, service: str) -> str:
        return user_name(service, self.prefix)

    def url(self, service: str) -> str:
        """The broker as `service`'s own user."""
        return with_credentials(self.amqp_url, self.user(service), self.passwords[service])

    def env(self) -> dict[str, str]:
        """What a process of the system needs in its environment to reach this broker as its own user."""
        return {
            "ATES_AMQP_URL": self.amqp_url,
            "ATES_AMQP_USER_PREFIX": self.prefix,
            "ATES_RABBITMQ_MANAGEMENT_URL": self.admin.base.removesuffix("/api"),
            **{
                f"ATES_AMQP_PASSWORD_{name.upper()}": password
                for name, password in self.passwords.items()
            },
        }

    @contextmanager
    def channel(self, service: str | None = None):
        """A channel as the administrator, or as `service`'s own user."""
        connection = BrokerNodes(
            self.url(service) if service else self.amqp_url
        ).blocking_connection()
        try:
            yield connection.channel()
        finally:
            connection.close()

    def close_all_connections(self) -> None:
        rabbitmqctl(
            "close_all_connections", "--vhost", self.vhost, "test: the broker drops everyone"
        )

    def publish_raw(
        self, exchange: str, routing_key: str, body: bytes, service: str | None = None
    ) -> None:
        """Publish as the administrator (no user_id: a consumer trusts none of it), or as `service`."""
        with self.channel(service) as channel:
            channel.confirm_delivery()
            channel.basic_publish(
                exchange,
                routing_key,
                body,
                pika.BasicProperties(
                    delivery_mode=2, user_id=self.user(service) if service else None
                ),
            )

    def publish_events(self, events, **properties) -> None:
        """Events as their producers publish them: each through its exchange, as its user, confirmed."""
        by_producer: dict[str, list] = {}
        for event in events:
            by_producer.setdefault(event.producer, []).append(event)
        for producer, produced in by_producer.items():
            with self.channel(producer) as channel:
                channel.confirm_delivery()
                for event in produced:
                    channel.basic_publish(
                        f"{producer}.events",
                        event.routing_key,
                        json.dumps(event.to_message()),
                        pika.BasicProperties(
                            delivery_mode=2,
                            user_id=self.user(producer),
                            message_id=event.id,
                            **properties,
                        ),
                    )

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
    broker = Broker(f"ates-test-{uuid.uuid4().hex[:12]}")
    broker.admin.add_vhost(broker.vhost)
    broker.admin.permit(broker.vhost, ADMIN[0], Permissions(".*", ".*", ".*"))
    try:
        yield broker.provision()
    finally:
        broker.admin.delete_vhost(broker.vhost)
        broker.drop_users()


@pytest.fixture
def broker():
    with _throw_away_vhost() as found:
        yield found


@pytest.fixture(scope="module")
def broker_for_module():
    """One virtual host for a module whose tests share a running system."""
    with _throw_away_vhost() as found:
        yield found
