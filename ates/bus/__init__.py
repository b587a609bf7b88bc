"""The event bus: outbox and relay on the producing side, topology, consumer and inbox on the other."""

from ates.bus.consumer import Consumer
from ates.bus.events import Event
from ates.bus.handlers import Handlers, NotYet
from ates.bus.inbox import Inbox
from ates.bus.outbox import Outbox
from ates.bus.relay import OutboxRelay
from ates.bus.tables import inbox_table, outbox_table

__all__ = [
    "Consumer",
    "Event",
    "Handlers",
    "Inbox",
    "NotYet",
    "Outbox",
    "OutboxRelay",
    "inbox_table",
    "outbox_table",
]
