"""The test's own view of the event stream: a queue bound to every producer's exchange with `#`."""

import json
import threading
import time

import pika

from ates.bus import topology
from ates.bus.nodes import BrokerNodes
from ates.schemas import SchemaError, registry
from tests.e2e import model

PRODUCERS = ("auth", "tracker", "accounting")


class EventTap:
    """A queue of the test's own bound to every producer's exchange with `#`: every event the system
    publishes, each validated against its schema and kept once per id (the relay may publish a row
    twice after a crash; that is counted). Reconnects by itself when the broker restarts."""

    def __init__(self, amqp_url: str, queue: str = "e2e.tap", queue_arguments: dict | None = None):
        """`amqp_url` may list several nodes of a cluster; `queue_arguments` are the tap queue's
        (on a cluster: a quorum queue, so that losing a node loses nothing the tap has not seen)."""
        self.amqp_url, self.queue, self.queue_arguments = amqp_url, queue, queue_arguments
        self.nodes = BrokerNodes(amqp_url)
        self.events: dict[str, dict] = {}
        self.duplicates = 0
        self.invalid: list[str] = []
        self.reconnects = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-tap", daemon=True)

    def declare(self) -> "EventTap":
        """Before the system starts, so that not even its first event is missed."""
        connection = self.nodes.blocking_connection()
        try:
            channel = connection.channel()
            channel.queue_declare(self.queue, durable=True, arguments=self.queue_arguments)
            for producer in PRODUCERS:
                topology.declare_exchange(channel, producer)
                channel.queue_bind(self.queue, topology.exchange_name(producer), "#")
        finally:
            connection.close()
        return self

    def start(self) -> "EventTap":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def of_type(self, event_type: str, version: int | None = None) -> list[dict]:
        with self._lock:
            return [
                m
                for m in self.events.values()
                if m["type"] == event_type and (version is None or m["dataversion"] == version)
            ]

    def count(self) -> int:
        with self._lock:
            return len(self.events)

    def prices(self) -> tuple[dict[str, model.Price], list[str]]:
        """Each task's price from `task.priced`, and every task priced twice differently (never, by
        the rules)."""
        prices, problems = {}, []
        for message in self.of_type("task.priced"):
            price = model.Price.from_event(message["data"])
            task_id = message["data"]["task_id"]
            if prices.setdefault(task_id, price) != price:
                problems.append(f"task {task_id} priced twice: {prices[task_id]} and {price}")
        return prices, problems

    def _run(self) -> None:
        schemas = registry()
        while not self._stopping.is_set():
            try:
                connection = self.nodes.blocking_connection()
            except (pika.exceptions.AMQPError, OSError):
                self.nodes.lost()
                time.sleep(0.5)
                continue
            try:
                channel = connection.channel()
                channel.basic_qos(prefetch_count=2000)
                channel.basic_consume(
                    self.queue, lambda ch, method, _p, body: self._take(ch, method, body, schemas)
                )
                while not self._stopping.is_set():
                    connection.process_data_events(time_limit=0.2)
            except (pika.exceptions.AMQPError, OSError):
                self.reconnects += 1
                self.nodes.lost()
                time.sleep(0.5)
            finally:
                if connection.is_open:
                    connection.close()

    def _take(self, channel, method, body: bytes, schemas) -> None:
        try:
            message = json.loads(body)
            schemas.validate(message)
        except (ValueError, SchemaError) as error:
            with self._lock:
                self.invalid.append(f"{method.routing_key}: {error}")
        else:
            with self._lock:
                if message["id"] in self.events:
                    self.duplicates += 1
                else:
                    self.events[message["id"]] = message
        channel.basic_ack(method.delivery_tag)
