"""idempotency keys: the answer to each write sent with an Idempotency-Key (ates/idempotency.py)"""

from ates import idempotency

revision, down_revision = "0006", "0005"
upgrade, downgrade = idempotency.migration()
