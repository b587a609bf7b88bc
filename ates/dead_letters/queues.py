"""Dead letters, for the admin page and `ates dlq`: what waits in every `<queue>.dead`, one message in
full, replay to the consumer queue it came from, discard.

Looking loses nothing: a `.dead` queue is read whole with `basic_get` and no ack, the chosen messages
are acted on (a replay is acked off only after the broker confirmed its copy), and the rest go back
with `basic_nack(requeue=True)` before the channel closes (a lost connection returns them too).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import pika
import requests
from pika.exceptions import (
    AMQPConnectionError,
    AMQPError,
    ChannelClosedByBroker,
    NackError,
    UnroutableError,
)

from ates.bus import topology
from ates.bus.nodes import BrokerNodes
from ates.bus.users import OPERATOR, ORIGINAL_USER, Identity
from ates.dead_letters.letter import (  # noqa: F401 — the names both front ends import from here
    DEAD,
    BrokerUnavailable,
    DeadLetter,
    DeadLetterError,
    DeadQueue,
    Group,
    NotFound,
    Outcome,
    Shown,
    UnknownQueue,
    dead_name,
    letter_from,
    management_url_for,
    management_urls_for,
    plain,
    readable_body,
    reason_group,
    replay_headers,
)

READ_LIMIT = 10_000  # messages read from one queue at once; the rest wait for the next round


@dataclass
class _Held:
    tag: int
    letter: DeadLetter
    properties: pika.BasicProperties
    body: bytes


class _Reading:
    """One `.dead` queue taken whole on a channel of its own; what is not acked goes back on `close`."""

    def __init__(self, connection, queue: str, limit: int):
        self.queue = queue
        self.channel = connection.channel()
        try:
            self.channel.queue_declare(queue, passive=True)
        except ChannelClosedByBroker as error:
            if error.reply_code == 404:
                raise UnknownQueue(f"there is no queue {queue}") from None
            raise
        self.channel.confirm_delivery()
        self.held: list[_Held] = []
        self.acked = 0
        self.unread = 0
        while len(self.held) < limit:
            method, properties, body = self.channel.basic_get(queue, auto_ack=False)
            if method is None:
                self.unread = 0
                break
            self.held.append(
                _Held(method.delivery_tag, letter_from(queue, properties, body), properties, body)
            )
            self.unread = method.message_count  # still ready in the queue after this one

    def chosen(self, key: str | None, reason: str | None) -> list[_Held]:
        group = None if reason is None else reason_group(reason)
        return [
            held
            for held in self.held
            if (key is None or held.letter.key == key)
            and (group is None or held.letter.group == group)
        ]

    def ack(self, held: _Held) -> None:
        self.channel.basic_ack(held.tag)
        self.acked += 1

    @property
    def beyond_the_limit(self) -> str:
        return (
            f" among the first {len(self.held)} ({self.unread} more not read)"
            if self.unread
            else ""
        )

    def close(self) -> None:
        try:
            if self.acked < len(self.held):
                self.channel.basic_nack(
                    0, multiple=True, requeue=True
                )  # every message not acked, back
            self.channel.close()
        except AMQPError:
            pass  # the connection's close returns them as well


class DeadLetters:
    """The dead letters of one virtual host: the vhost and credentials of `amqp_url`, the operator's."""

    def __init__(
        self, amqp_url: str, management_url: str | None = None, read_limit: int = READ_LIMIT
    ):
        # one or several nodes of a cluster (ates/bus/nodes.py); a broker out of memory must not
        # hang a page or the CLI
        self.nodes = BrokerNodes(amqp_url, blocked_connection_timeout=30)
        self.identity = Identity.of(self.nodes.first.credentials.username, OPERATOR)
        self._known_exchanges: dict[str, bool] = {}
        self.vhost = self.nodes.first.virtual_host
        # the management API of each node in turn: any one answers for the whole cluster
        self.management_urls = (
            [management_url.rstrip("/")] if management_url else management_urls_for(amqp_url)
        )
        self.management_url = self.management_urls[0]
        self.read_limit = read_limit

    def queues(self) -> list[str]:
        """Every queue of the vhost whose name ends in `.dead`, from the management HTTP API (the
        first node's that answers)."""
        credentials = self.nodes.first.credentials
        answer = self._ask_management(f"/api/queues/{quote(self.vhost, safe='')}")
        if answer.status_code in (401, 403):
            raise BrokerUnavailable(
                f"RabbitMQ's management API refuses the user {credentials.username!r} "
                "of ATES_AMQP_URL; it needs the management tag"
            )
        if answer.status_code == 404:
            raise UnknownQueue(
                f"RabbitMQ at {self.management_url} has no virtual host {self.vhost!r}"
            )
        try:
            answer.raise_for_status()
            return sorted(queue["name"] for queue in answer.json() if queue["name"].endswith(DEAD))
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise BrokerUnavailable(
                f"RabbitMQ's management API at {self.management_url} answered "
                f"{answer.status_code} with no queue list ({error})"
            ) from None

    def _ask_management(self, path: str) -> requests.Response:
        credentials = self.nodes.first.credentials
        problem: Exception | None = None
        for base in self.management_urls:
            try:
                answer = requests.get(
                    base + path,
                    params={"columns": "name"},
                    timeout=10,
                    auth=(credentials.username, credentials.password),
                )
            except requests.RequestException as error:
                problem = error
                continue
            self.management_url = base
            return answer
        raise BrokerUnavailable(
            f"cannot reach RabbitMQ's management API at {', '.join(self.management_urls)} "
            f"({type(problem).__name__}); "
            "is its plugin on (rabbitmq-plugins enable rabbitmq_management)? "
            "ATES_RABBITMQ_MANAGEMENT_URL says where it is"
        ) from None

    def list(self, queue: str | None = None) -> list[DeadQueue]:
        """The letters in one `.dead` queue, or in every one; each queue's `groups` orders them for
        display."""
        names = [dead_name(queue)] if queue else self.queues()
        found = []
        with self._connection() as connection:
            for name in names:
                try:
                    with self._reading(connection, name) as reading:
                        letters = tuple(held.letter for held in reading.held)
                        found.append(DeadQueue(name, len(letters) + reading.unread, letters))
                except UnknownQueue:
                    if queue:
                        raise  # asked for by name; one that was listed and is gone since is no news
        return found

    def show(self, queue: str, key: str) -> Shown:
        with (
            self._connection() as connection,
            self._reading(connection, dead_name(queue)) as reading,
        ):
            matching = reading.chosen(key, None)
            if not matching:
                raise NotFound(f"no dead letter {key} in {reading.queue}{reading.beyond_the_limit}")
            first = matching[0]
            headers = {
                name: value
                for name, value in (first.properties.headers or {}).items()
                if name != "x-delivery-count"
            }  # the broker's count of reads, looking included
            return Shown(
                first.letter,
                len(matching),
                _properties_of(first.properties),
                plain(headers),
                readable_body(first.body),
            )

    def replay(self, queue: str, key: str | None = None, reason: str | None = None) -> Outcome:
        """Each chosen letter back into its consumer queue; off `.dead` once the broker confirmed the copy.

        Neither key nor reason: every letter of the queue. A replay that fails again comes back to `.dead`
        through the consumer's own path, with a fresh reason."""
        return self._act(queue, key, reason, self._republish)

    def discard(self, queue: str, key: str | None = None, reason: str | None = None) -> Outcome:
        return self._act(queue, key, reason, None)

    def _act(self, queue: str, key: str | None, reason: str | None, before_ack) -> Outcome:
        with (
            self._connection() as connection,
            self._reading(connection, dead_name(queue)) as reading,
        ):
            chosen = reading.chosen(key, reason)
            if not chosen:
                what = (
                    f"dead letter {key}"
                    if key
                    else f"dead letter with the reason {reason!r}"
                    if reason
                    else "dead letter"
                )
                raise NotFound(f"no {what} in {reading.queue}{reading.beyond_the_limit}")
            done, failed = [], []
            for held in chosen:
                try:
                    if before_ack:
                        before_ack(reading.channel, held)
                except (UnroutableError, NackError) as error:
                    failed.append((held.letter, _why_not(held, error)))
                    continue
                reading.ack(held)
                done.append(held.letter)
            return Outcome(reading.queue, tuple(done), tuple(failed), reading.unread)

    def _republish(self, channel, held: _Held) -> None:
        """Through the consumer's retry exchange (nobody writes the default one), as the operator.

        The consumer believes a replay's `ates-original-user-id` header, so it must say who published the
        event: a letter the consumer moved (its own user_id on it) recorded that on arrival; a letter the
        broker moved (delivery limit) still carries the producer's user_id, which the broker checked."""
        original = held.properties
        consumer = held.letter.original_queue.split(".")[0]
        exchange = topology.retry_exchange_name(consumer)
        if not self._exists(channel, exchange):
            raise UnroutableError([])  # no such consumer any more: nothing to replay into
        headers = replay_headers(held.letter, original.headers or {})
        if original.user_id != self.identity.user_of(consumer):
            headers[ORIGINAL_USER] = original.user_id or ""
        channel.basic_publish(
            exchange,
            held.letter.original_queue,
            held.body,
            pika.BasicProperties(
                content_type=original.content_type,
                content_encoding=original.content_encoding,
                headers=headers,
                delivery_mode=pika.DeliveryMode.Persistent.value,
                priority=original.priority,
                correlation_id=original.correlation_id,
                message_id=original.message_id,
                timestamp=original.timestamp,
                type=original.type,
                app_id=original.app_id,
                user_id=self.identity.user,
            ),
            mandatory=True,
        )  # no expiration: a replay must not vanish

    def _exists(self, channel, exchange: str) -> bool:
        """Looked up on a channel of its own: a missing exchange closes the channel that asks."""
        if exchange not in self._known_exchanges:
            probe = channel.connection.channel()
            try:
                probe.exchange_declare(exchange, passive=True)
                probe.close()
                self._known_exchanges[exchange] = True
            except ChannelClosedByBroker as error:
                if error.reply_code != 404:
                    raise
                self._known_exchanges[exchange] = False
        return self._known_exchanges[exchange]

    @contextmanager
    def _connection(self):
        where = f"{self.nodes.describe()}, virtual host {self.vhost!r}"
        try:
            connection = self.nodes.blocking_connection()
        except AMQPConnectionError as error:
            raise BrokerUnavailable(
                f"cannot reach RabbitMQ at {where} ({type(error).__name__}); "
                "ATES_AMQP_URL says where it is"
            ) from None
        try:
            yield connection
        except (AMQPError, OSError) as error:
            raise BrokerUnavailable(
                f"RabbitMQ at {where} broke off ({error!r}); "
                "whatever was not done stays in its .dead queue"
            ) from None
        finally:
            if connection.is_open:
                connection.close()

    @contextmanager
    def _reading(self, connection, queue: str):
        reading = _Reading(connection, queue, self.read_limit)
        try:
            yield reading
        finally:
            reading.close()


def _why_not(held: _Held, error: Exception) -> str:
    if isinstance(error, UnroutableError):
        return f"there is no queue {held.letter.original_queue} to replay it to"
    return "the broker refused the copy"


def _properties_of(properties: pika.BasicProperties) -> dict:
    names = (
        "message_id",
        "type",
        "content_type",
        "app_id",
        "correlation_id",
        "timestamp",
        "delivery_mode",
    )
    return {
        name: plain(getattr(properties, name))
        for name in names
        if getattr(properties, name) is not None
    }
