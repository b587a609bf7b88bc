"""The tracker database's tables."""
from ates.bus import inbox_table, outbox_table
from ates.db import new_metadata

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
