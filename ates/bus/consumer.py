"""The consumer runner: deliveries in, outcomes applied, acks out (manual, after commit).

Ack policy, explicitly: a message is acked only after (a) its handler's transaction committed,
or (b) a copy of it was confirmed into its wait queue (retry) or its `.dead` queue. A crash
anywhere before that means redelivery, and the inbox makes a redelivery change nothing.

Trust: an event is applied only when the broker vouches that its producer wrote it. The broker
refuses a publish whose `user_id` is not the publishing connection's user, and only the producer's
user may write its `<producer>.events` exchange; so an event arrives either from that exchange with
the producer's `user_id`, or through this consumer's own `<consumer>.retry` exchange (written only by
this consumer and the operator's replays) with the origin that consumer recorded on first arrival.
Anything else is dead-lettered at once as "untrusted producer" (docs/bus.md, "Trust").

What it consumed, retried and dead-lettered is counted per queue (ates/metrics.py).
"""

import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace

import pika
from pika.exceptions import AMQPError

from ates import clock, correlation, metrics
from ates.bus import topology
from ates.bus.events import Event
from ates.bus.handlers import Handlers
from ates.bus.headers import SENDER_SELECTED, header_count, rewritable
from ates.bus.inbox import Inbox, Outcome
from ates.bus.nodes import BrokerNodes
from ates.bus.users import OPERATOR, ORIGINAL_USER, Identity
from ates.config import DEFAULT_QUORUM_SIZE
from ates.schemas import SchemaError, SchemaRegistry, registry

log = logging.getLogger(__name__)
NOT_JSON, SCHEMA = "not JSON: ", "schema: "  # how a reason starts tells its kind for the metrics
UNTRUSTED = "untrusted producer"
REASON_LIMIT = 1000  # characters of `ates-reason`: an exception's text can be any length
FRAME_HEADROOM = (
    1024  # bytes of a frame a copy's properties leave free (the header frame's own fields)
)


@dataclass
class Delivery:
    tag: int
    queue: str
    exchange: str
    routing_key: str
    properties: pika.BasicProperties
    body: bytes


class Consumer:
    def __init__(
        self,
        handlers: Handlers,
        inbox: Inbox,
        amqp_url: str,
        retry_delays_ms,
        schemas: SchemaRegistry | None = None,
        prefetch: int = 1000,
        batch_size: int = 500,
        quorum_size: int = DEFAULT_QUORUM_SIZE,
    ):
        self.handlers = handlers
        self.inbox = inbox
        self.nodes = BrokerNodes(amqp_url)  # one or several nodes of a cluster (ates/bus/nodes.py)
        self.identity = Identity.of(self.nodes.first.credentials.username, handlers.consumer)
        self.retry_exchange = topology.retry_exchange_name(handlers.consumer)
        self.dead_exchange = topology.dead_exchange_name(handlers.consumer)
        self.retry_delays_ms = tuple(retry_delays_ms)
        self.quorum_size = quorum_size
        self.schemas = schemas or registry()
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.subscriptions = handlers.subscriptions()
        self._stopping = False
        self.connections_opened = 0
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"{handlers.consumer}-handlers"
        )
        self._batch_seconds = metrics.BATCH_SECONDS.labels(handlers.consumer)

    def declare(self, channel):
        """Every subscription's queues; returns the channel to go on with (topology.declare_subscription)."""
        for subscription in self.subscriptions:
            channel = topology.declare_subscription(
                channel, subscription, self.retry_delays_ms, self.quorum_size
            )
        return channel

    def run(self) -> None:
        """Consume until stop(); after the broker goes away, reconnect with backoff."""
        backoff = 0.5
        while not self._stopping:
            try:
                self._consume()
                backoff = 0.5
            except (AMQPError, OSError) as error:
                if self._stopping:
                    break
                self.nodes.lost()  # the next connection begins with the next node
                log.warning(
                    "%s consumer lost the broker (%r); reconnecting in %.1fs, first to %s:%s",
                    self.handlers.consumer,
                    error,
                    backoff,
                    self.nodes.current().host,
                    self.nodes.current().port,
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        self._executor.shutdown(wait=True)

    def stop(self) -> None:
        """Safe from a signal handler: the current batch finishes, then the connection closes."""
        self._stopping = True

    def _consume(self) -> None:
        connection = self.nodes.blocking_connection()
        self.connections_opened += 1
        try:
            channel = self.declare(connection.channel())
            channel.confirm_delivery()  # retry and dead-letter copies are confirmed before the ack
            channel.basic_qos(prefetch_count=self.prefetch)
            buffer: list[Delivery] = []
            for subscription in self.subscriptions:
                channel.basic_consume(subscription.queue, _collect_into(buffer, subscription.queue))
            log.info(
                "%s consuming %s", self.handlers.consumer, [s.queue for s in self.subscriptions]
            )
            while not self._stopping:
                connection.process_data_events(time_limit=0 if buffer else 0.2)
                if buffer:
                    batch, buffer[:] = buffer[: self.batch_size], buffer[self.batch_size :]
                    self._handle(connection, channel, batch)
        finally:
            if connection.is_open:
                connection.close()

    def _handle(self, connection, channel, batch: list[Delivery]) -> None:
        outcomes: dict[int, Outcome] = {}
        decoded: list[tuple[Delivery, Event]] = []
        for delivery in batch:
            event, problem = self._decode(delivery)
            if problem or event is None:
                outcomes[delivery.tag] = Outcome("dead", problem or "not an event")
            else:
                decoded.append((delivery, event))
        if decoded:
            started = time.perf_counter()
            applied = self._apply_keeping_heartbeats(connection, [event for _, event in decoded])
            self._batch_seconds.observe(time.perf_counter() - started)
            outcomes.update(
                {
                    delivery.tag: outcome
                    for (delivery, _), outcome in zip(decoded, applied, strict=True)
                }
            )
            consumed = Counter(
                (delivery.queue, event.type)
                for (delivery, event), outcome in zip(decoded, applied, strict=True)
                if outcome.action == "ack"
            )
            for (queue, event_type), count in consumed.items():
                metrics.EVENTS_CONSUMED.labels(queue, event_type).inc(count)
        for delivery in batch:
            outcome = outcomes[delivery.tag]
            if outcome.action == "retry":
                self._retry(channel, delivery, outcome.reason)
            elif outcome.action == "dead":
                self._dead_letter(channel, delivery, outcome.reason, _reason_kind(outcome.reason))
        channel.basic_ack(batch[-1].tag, multiple=True)

    def _apply_keeping_heartbeats(self, connection, events: list[Event]) -> list[Outcome]:
        future = self._executor.submit(self.inbox.apply, events)
        while True:
            try:
                return future.result(timeout=1.0)
            except FutureTimeout:
                connection.process_data_events(
                    time_limit=0
                )  # a slow handler must not cost the connection

    def _decode(self, delivery: Delivery) -> tuple[Event | None, str | None]:
        try:
            message = json.loads(delivery.body)
        except (
            ValueError,
            RecursionError,
        ) as error:  # bad bytes or syntax, a 5,000-digit number, deep nesting
            return None, f"{NOT_JSON}{str(error)[:300]}"
        try:
            self.schemas.validate(message)
        except (
            SchemaError,
            ValueError,
            RecursionError,
        ) as error:  # e.g. a lone surrogate the validator cannot encode
            return None, f"{SCHEMA}{str(error)[:300]}"
        event = Event.from_message(message)
        untrusted = self._untrusted(delivery, event)
        if untrusted:
            return None, f"{UNTRUSTED}: {untrusted}"
        if self.handlers.lookup(event.type, event.version) is None:
            return (
                None,
                f"{self.handlers.consumer} has no handler for {event.type} v{event.version}",
            )
        property_id = delivery.properties.correlation_id
        # pika hands over a correlation_id that is no UTF-8 as bytes, which is_sane's str pattern cannot match
        if (
            event.correlation_id is None
            and isinstance(property_id, str)
            and correlation.is_sane(property_id)
        ):
            event = replace(
                event, correlation_id=property_id
            )  # a producer that sets only the property
        return event, None

    def _untrusted(self, delivery: Delivery, event: Event) -> str | None:
        """Why the broker does not vouch that `event.source` wrote this message; None when it does."""
        user: str | None = delivery.properties.user_id
        exchange: str | None = delivery.exchange
        if exchange == self.retry_exchange:  # a copy of ours, or an operator's replay of one
            if user not in (self.identity.user, self.identity.user_of(OPERATOR)):
                return f"{user!r} wrote into {exchange}, which only {self.identity.user} and the operator may"
            headers = delivery.properties.headers or {}
            user, exchange = headers.get(ORIGINAL_USER), headers.get("ates-original-exchange")
        expected_user, expected_exchange = (
            self.identity.user_of(event.producer),
            topology.exchange_name(event.producer),
        )
        if user != expected_user:
            return f"{event.source} must be published by {expected_user}, but user_id is {user!r}"
        if exchange != expected_exchange:
            return f"{event.source} must arrive through {expected_exchange}, not {exchange!r}"
        return None

    def _retry(self, channel, delivery: Delivery, reason: str) -> None:
        headers = self._headers_with_origin(delivery)
        attempts = _attempts_so_far(headers) + 1
        if attempts > len(self.retry_delays_ms):
            self._dead_letter(
                channel, delivery, f"gave up after {attempts} tries: {reason}", "gave_up"
            )
            return
        headers.update({"ates-attempts": attempts, "ates-reason": reason[:REASON_LIMIT]})
        if not _broker_can_update(headers.get("x-death", [])):
            del headers[
                "x-death"
            ]  # RabbitMQ 3.10 would crash the wait queue updating it, and lose the copy
        delay = self.retry_delays_ms[attempts - 1]
        self._publish_copy(
            channel,
            self.retry_exchange,
            topology.wait_queue_name(delivery.queue, delay),
            delivery,
            headers,
        )
        metrics.EVENTS_RETRIED.labels(delivery.queue).inc()

    def _dead_letter(self, channel, delivery: Delivery, reason: str, kind: str) -> None:
        log.warning(
            "dead-lettering from %s: %s",
            delivery.queue,
            reason,
            extra={"correlation_id": delivery.properties.correlation_id},
        )
        headers = self._headers_with_origin(delivery)
        headers.update(
            {"ates-reason": reason[:REASON_LIMIT], "ates-dead-at": clock.to_wire(clock.utcnow())}
        )
        self._publish_copy(
            channel, self.dead_exchange, topology.dead_queue_name(delivery.queue), delivery, headers
        )
        metrics.EVENTS_DEAD_LETTERED.labels(delivery.queue, kind).inc()

    def _headers_with_origin(self, delivery: Delivery) -> dict:
        """The headers a copy carries: the producer's, and where it came from as the broker said.

        Only a copy that comes back through our own retry exchange keeps the origin it has: on any
        other arrival an `ates-original-*` header is the sender's word and is overwritten."""
        headers = rewritable(
            {
                name: value
                for name, value in (delivery.properties.headers or {}).items()
                if name not in SENDER_SELECTED
            }
        )
        headers["ates-queue"] = (
            delivery.queue
        )  # where a replay goes: the queue it came from, whatever a producer said
        if delivery.exchange != self.retry_exchange or "ates-original-routing-key" not in headers:
            headers["ates-original-exchange"] = delivery.exchange
            headers["ates-original-routing-key"] = delivery.routing_key
            headers[ORIGINAL_USER] = delivery.properties.user_id or ""
        return headers

    def _publish_copy(
        self, channel, exchange: str, queue: str, delivery: Delivery, headers: dict
    ) -> None:
        properties = delivery.properties
        properties.headers = headers
        properties.delivery_mode = pika.DeliveryMode.Persistent.value
        properties.user_id = (
            self.identity.user
        )  # the broker checks it is ours; the producer's is in a header
        properties.expiration = (
            None  # a dead letter must not vanish, nor a retry wait less than its delay
        )
        fit_in_a_frame(properties, self.nodes.first.frame_max)
        channel.basic_publish(exchange, queue, delivery.body, properties, mandatory=True)


def _reason_kind(reason: str) -> str:
    """The `reason_kind` label of ates_events_dead_lettered_total for a decoding problem."""
    if reason.startswith(NOT_JSON):
        return "not_json"
    if reason.startswith(SCHEMA):
        return "schema"
    if reason.startswith(UNTRUSTED):
        return "untrusted"
    return "no_handler"


def _collect_into(buffer: list[Delivery], queue: str):
    def on_message(_channel, method, properties, body):
        buffer.append(
            Delivery(
                method.delivery_tag, queue, method.exchange, method.routing_key, properties, body
            )
        )

    return on_message


def _attempts_so_far(headers: dict) -> int:
    """The retry count in our own header; a foreign or garbled value counts as none so far."""
    return header_count(headers.get("ates-attempts"))


def _broker_can_update(x_death) -> bool:
    """Whether RabbitMQ 3.10 can add to this `x-death` when the wait queue dead-letters the copy: it
    crashes the queue (a restart loop, the copy lost) on an entry that is no table or whose count is
    no number. The broker's own entries always are; a producer's may be anything."""
    if not isinstance(x_death, list):
        return True  # the broker replaces it
    return all(
        isinstance(death, dict)
        and isinstance(death.get("count", 0), int)
        and not isinstance(death.get("count"), bool)
        for death in x_death
    )


def fit_in_a_frame(properties: pika.BasicProperties, frame_max: int) -> None:
    """Keep only our headers when with all of them the copy's properties would pass the frame size.

    A copy carries a few hundred bytes of headers more than the message did. Past the frame size the
    broker closes the connection (FRAME_ERROR) and the copy never lands: the message comes back again
    and again. So the producer's own headers give way, and `ates-headers-dropped` says how many did.
    """
    if sum(len(piece) for piece in properties.encode()) <= frame_max - FRAME_HEADROOM:
        return
    headers = properties.headers
    ours = {
        name: value for name, value in headers.items() if name.startswith("ates-") and _short(value)
    }
    ours["ates-headers-dropped"] = len(headers) - len(ours)
    properties.headers = ours


def _short(value) -> bool:
    return not isinstance(value, (str, bytes, dict, list)) or len(value) <= REASON_LIMIT + 100
