"""Time in aTES is UTC-aware: one way to read the clock and one wire format (RFC 3339, `Z`)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_wire(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: aTES times are UTC-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_wire(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return moment.astimezone(UTC)
