"""The auth database's tables."""
from ates.bus import outbox_table
from ates.db import new_metadata

metadata = new_metadata()
outbox = outbox_table(metadata)
