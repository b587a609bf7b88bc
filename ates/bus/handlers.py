"""The one visible place where a service says which events it handles, and with what.

A handler is `handler(session, event)`, called inside the transaction the inbox opened for the
event. What else it needs it names as further parameters (`settings`, `now`: see `bind`), and the
worker hands those in; no handler reads the environment or builds its own settings.
"""

import functools
import inspect
from collections import defaultdict
from collections.abc import Callable, Mapping

from ates.bus.topology import Subscription
from ates.schemas import SchemaRegistry, registry

Handler = Callable[
    ..., None
]  # handler(session, event, **dependencies), inside the consumer's transaction


class NotYet(Exception):
    """Something the event needs has not arrived yet: retry it later, dead-letter it in the end."""


class Handlers:
    def __init__(self, consumer: str, schemas: SchemaRegistry | None = None):
        self.consumer = consumer
        self.schemas = schemas or registry()
        self._handlers: dict[tuple[str, int], Handler] = {}

    def on(self, event_type: str, version: int):
        """Decorator: `@handlers.on("task.completed", 1)` above `def on_task_completed(session, event)`."""
        self.schemas.schema(event_type, version)  # fails at import time for an unknown event

        def register(handler: Handler) -> Handler:
            key = (event_type, version)
            if key in self._handlers:
                raise ValueError(f"{self.consumer} handles {event_type} v{version} twice")
            self._handlers[key] = handler
            return handler

        return register

    def lookup(self, event_type: str, version: int) -> Handler | None:
        return self._handlers.get((event_type, version))

    def bind(self, dependencies: Mapping[str, object]) -> dict[tuple[str, int], Handler]:
        """Every handler as `handler(session, event)`, with the dependencies it names handed in.

        A handler that names something not given fails here, when the worker starts, not on
        its first event.
        """
        bound = {}
        for key, handler in self._handlers.items():
            wanted = needs(handler)
            missing = [name for name in wanted if name not in dependencies]
            if missing:
                raise TypeError(
                    f"{self.consumer}'s {handler.__name__} needs {', '.join(missing)}, "
                    "which its worker does not hand in"
                )
            bound[key] = (
                functools.partial(handler, **{name: dependencies[name] for name in wanted})
                if wanted
                else handler
            )
        return bound

    def subscriptions(self) -> list[Subscription]:
        keys_by_producer = defaultdict(list)
        for event_type, version in sorted(self._handlers):
            keys_by_producer[self.schemas.producer_of(event_type)].append(
                f"{event_type}.v{version}"
            )
        return [
            Subscription(self.consumer, producer, tuple(keys))
            for producer, keys in sorted(keys_by_producer.items())
        ]


def needs(handler: Handler) -> list[str]:
    """The dependencies a handler names after (session, event)."""
    return list(inspect.signature(handler).parameters)[2:]
