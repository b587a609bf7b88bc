"""The CloudEvents envelope every aTES event travels in (SPEC §5)."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ates import clock, money


@dataclass(frozen=True)
class Event:
    type: str
    version: int
    source: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=clock.utcnow)
    correlation_id: str | None = None

    @property
    def routing_key(self) -> str:
        return f"{self.type}.v{self.version}"

    @property
    def producer(self) -> str:
        return self.source.strip("/")

    def to_message(self) -> dict[str, Any]:
        message = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "dataversion": self.version,
            "time": clock.to_wire(self.time),
            "datacontenttype": "application/json",
            "data": {key: _to_wire(value) for key, value in self.data.items()},
        }
        if self.correlation_id:
            message["correlationid"] = self.correlation_id
        return message

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "Event":
        """An event from a message that already passed its schema."""
        return cls(
            type=message["type"],
            version=message["dataversion"],
            source=message["source"],
            data=message["data"],
            id=message["id"],
            time=clock.from_wire(message["time"]),
            correlation_id=message.get("correlationid"),
        )


_CORRELATION_KEY = '"correlationid":"'


def correlation_id_of(body: str) -> str | None:
    """The `correlationid` of a message as the outbox wrote it, without parsing the whole body.

    `to_message` and `Outbox.add` put it last, so it is the body's tail; inside string values a
    quote is escaped, so the key cannot be faked by a title. Anything else is parsed in full.
    """
    at = body.rfind(_CORRELATION_KEY)
    if at < 0:
        return None
    value = body[at + len(_CORRELATION_KEY) : -2]
    if body.endswith('"}') and '"' not in value and "\\" not in value:
        return value
    return json.loads(body).get("correlationid")


def _to_wire(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money.to_wire(value)
    if isinstance(value, datetime):
        return clock.to_wire(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
