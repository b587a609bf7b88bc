"""The analytics database's tables."""
from ates.bus import inbox_table
from ates.db import new_metadata

metadata = new_metadata()
inbox = inbox_table(metadata)
