"""idempotency keys: the answer to each write sent with an Idempotency-Key (ates/idempotency.py)"""

from ates import idempotency

revision, down_revision = "0005", "0004"
upgrade, downgrade = idempotency.migration()
