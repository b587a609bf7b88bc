"""on PostgreSQL, a row in the outbox wakes the relay at once (NOTIFY; ates/bus/wakeup.py)"""

from ates.migrations import outbox_wakeup_migration

revision, down_revision = "0007", "0006"
upgrade, downgrade = outbox_wakeup_migration()
