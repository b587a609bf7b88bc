"""The correlation id: one id shared by an HTTP request, every event it causes and every event those cause.

It lives in a context variable, so each request thread, each handler call and each background job
sees its own. `Outbox.add` stamps it on the events it writes (the CloudEvents extension attribute
`correlationid`); the consumer sets it from each event before that event's handler runs.
"""

import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "X-Correlation-Id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")

_current: ContextVar[str | None] = ContextVar("ates_correlation_id", default=None)


def current() -> str | None:
    return _current.get()


def new_id() -> str:
    return str(uuid.uuid4())


def is_sane(value: str | None) -> bool:
    """Short and plain enough to pass on into logs, headers and events: ≤ 64 of [A-Za-z0-9._-]."""
    return value is not None and _SANE.fullmatch(value) is not None


def accept(value: str | None) -> str:
    """The id a caller sent, if it is sane; otherwise a new one."""
    return value if value is not None and is_sane(value) else new_id()


def set_current(value: str | None):
    """Set the id for this context; returns the token `reset` takes to restore the previous one."""
    return _current.set(value)


def reset(token) -> None:
    _current.reset(token)


@contextmanager
def correlated(value: str | None = None):
    """Run the block with `value` (a new id when None) as the current correlation id; yields it."""
    value = value or new_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
