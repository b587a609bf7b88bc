"""The one visible place where a service says which events it handles, and with what."""
from collections import defaultdict
from typing import Callable

from ates.bus.topology import Subscription
from ates.schemas import SchemaRegistry, registry

Handler = Callable  # handler(session, event) -> None, inside the consumer's transaction


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

    def subscriptions(self) -> list[Subscription]:
        keys_by_producer = defaultdict(list)
        for event_type, version in sorted(self._handlers):
            keys_by_producer[self.schemas.producer_of(event_type)].append(f"{event_type}.v{version}")
        return [
            Subscription(self.consumer, producer, tuple(keys))
            for producer, keys in sorted(keys_by_producer.items())
        ]
