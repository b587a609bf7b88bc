"""bus tables: the outbox, as version 1 of them was (ates/migrations.py)"""

from ates.migrations import bus_tables_migration

revision, down_revision = "0001", None
upgrade, downgrade = bus_tables_migration(1, outbox=True, inbox=False)
