"""One dead letter: what is read off a message in a `.dead` queue (its event, reason and origin),
how letters group for an operator, and how a replay rewrites its headers. No broker I/O here:
`ates.dead_letters.queues` reads, replays and discards.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import pika

from ates.bus.headers import SENDER_SELECTED, header_count, rewritable  # noqa: F401 — used below and by queues.py
from ates.bus.topology import dead_queue_name
from ates.bus.users import (  # noqa: F401 — queues.py and the tests find them here too
    management_url_for,
    management_urls_for,
)

DEAD = ".dead"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_LIKE = re.compile(r"[\x21-\x7e]{1,200}")  # an event id usable as a key: printable, no spaces
_NOT_CARRIED_OVER = ("ates-reason", "ates-dead-at", "x-delivery-count", *SENDER_SELECTED)


class DeadLetterError(Exception):
    """Something the operator should read as it is; both front ends show the message."""


class BrokerUnavailable(DeadLetterError):
    pass


class UnknownQueue(DeadLetterError):
    pass


class NotFound(DeadLetterError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    queue: str  # the `.dead` queue it waits in
    key: str  # the event id, or `body-<hash>` when the body is no CloudEvent
    event_id: str | None
    type: str | None
    version: object
    time: str | None  # the event's own time
    reason: str
    dead_at: str | None
    attempts: int
    replays: int
    original_queue: str  # the consumer queue a replay goes to
    original_exchange: str | None
    original_routing_key: str | None

    @property
    def group(self) -> str:
        return reason_group(self.reason)


@dataclass(frozen=True)
class Group:
    queue: str
    reason: str  # what the reasons of its letters have in common (see `reason_group`)
    letters: tuple[DeadLetter, ...]


@dataclass(frozen=True)
class DeadQueue:
    name: str
    count: int  # messages in the queue when it was read
    letters: tuple[DeadLetter, ...]  # the first `READ_LIMIT` of them

    @property
    def truncated(self) -> bool:
        return self.count > len(self.letters)

    @property
    def groups(self) -> list[Group]:
        by_reason: dict[str, list[DeadLetter]] = {}
        for letter in self.letters:
            by_reason.setdefault(letter.group, []).append(letter)
        return [Group(self.name, reason, tuple(letters)) for reason, letters in by_reason.items()]


@dataclass(frozen=True)
class Shown:
    letter: DeadLetter
    copies: int  # messages in the queue with this key
    properties: dict
    headers: dict
    body: str  # indented JSON when it is JSON, else the text as it came


@dataclass(frozen=True)
class Outcome:
    queue: str
    done: tuple[DeadLetter, ...]
    failed: tuple[tuple[DeadLetter, str], ...]  # what stayed in the queue, and why
    unread: int  # messages beyond the read limit, not looked at this time


def dead_name(queue: str) -> str:
    """`accounting.tracker` and `accounting.tracker.dead` both name the dead-letter queue."""
    return queue if queue.endswith(DEAD) else dead_queue_name(queue)


def reason_group(reason: str) -> str:
    """The reason with ids masked, so that the 300 events waiting for 300 different tasks are one group."""
    if reason.startswith("not JSON"):
        return "not JSON"
    return _UUID.sub("<id>", reason)


def letter_from(queue: str, properties: pika.BasicProperties, body: bytes) -> DeadLetter:
    """What a dead letter says about itself; a body that is no JSON at all still makes a letter."""
    headers = plain(properties.headers or {})
    message = _json_or_none(body)
    event = message if isinstance(message, dict) else {}
    event_id = event.get("id") if isinstance(event.get("id"), str) else None
    deaths = headers.get("x-death") or [{}]
    first_death = (
        deaths[-1] if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict) else {}
    )
    routing_keys = first_death.get(
        "routing-keys"
    )  # a list when the broker wrote it; a producer's may be anything
    first_routing_key = routing_keys[0] if isinstance(routing_keys, list) and routing_keys else None
    return DeadLetter(
        queue=queue,
        key=event_id
        if event_id and _KEY_LIKE.fullmatch(event_id)
        else "body-" + hashlib.sha256(body).hexdigest()[:16],
        # plain(): pika hands over a property that is no UTF-8 as bytes, and a letter is shown as text
        event_id=event_id or plain(properties.message_id),
        type=event.get("type") if isinstance(event.get("type"), str) else plain(properties.type),
        version=event.get("dataversion"),
        time=event.get("time") if isinstance(event.get("time"), str) else None,
        reason=str(headers.get("ates-reason") or _broker_reason(headers)),
        dead_at=_text_or_none(headers.get("ates-dead-at")),
        attempts=header_count(headers.get("ates-attempts")),
        replays=header_count(headers.get("ates-replays")),
        original_queue=str(
            headers.get("ates-queue")
            or headers.get("x-first-death-queue")
            or queue.removesuffix(DEAD)
        ),
        original_exchange=_text_or_none(
            headers.get("ates-original-exchange", headers.get("x-first-death-exchange"))
        ),
        original_routing_key=_text_or_none(
            headers.get("ates-original-routing-key") or first_routing_key
        ),
    )


def replay_headers(letter: DeadLetter, headers: dict) -> dict:
    """The headers of a replayed copy: a fresh start at the retries, its origin kept, one replay more."""
    fresh = {name: value for name, value in headers.items() if name not in _NOT_CARRIED_OVER}
    fresh.update(
        {
            "ates-queue": letter.original_queue,
            "ates-attempts": 0,
            "ates-replays": letter.replays + 1,
        }
    )
    if letter.original_routing_key is not None:
        fresh["ates-original-exchange"] = letter.original_exchange or ""
        fresh["ates-original-routing-key"] = letter.original_routing_key
    return fresh


def plain(value):
    """Header values as text and numbers, for showing (pika hands some strings over as bytes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)  # pika's own long type shows as `1L`
    if isinstance(value, (str, float, bool)) or value is None:
        return value
    return str(value)


def _broker_reason(headers: dict) -> str:
    why = headers.get("x-first-death-reason")
    return f"dead-lettered by the broker: {why}" if why else "no reason given"


def _json_or_none(body: bytes):
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return None


def _text_or_none(value) -> str | None:
    return None if value is None else str(value)


def readable_body(body: bytes) -> str:
    """The body for a person: pretty JSON when it is JSON, else its text."""
    message = _json_or_none(body)
    if message is not None:
        return json.dumps(message, indent=2, ensure_ascii=False, sort_keys=False)
    return body.decode("utf-8", errors="replace")
