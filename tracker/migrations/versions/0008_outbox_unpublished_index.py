"""bus tables version 2: the outbox's index of unpublished rows is partial (ates/migrations.py)"""

from ates.migrations import bus_tables_upgrade

revision, down_revision = "0008", "0007"
upgrade, downgrade = bus_tables_upgrade(2, outbox=True)
