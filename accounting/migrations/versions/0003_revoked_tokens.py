"""access tokens revoked at the SSO (token.revoked), refused until they expire"""

from ates import revocations

revision, down_revision = "0003", "0002"
upgrade, downgrade = revocations.migration()
