"""bus tables: the inbox, as version 1 of it was (ates/migrations.py); the notifier publishes nothing"""

from ates.migrations import bus_tables_migration

revision, down_revision = "0001", None
upgrade, downgrade = bus_tables_migration(1, outbox=False, inbox=True)
