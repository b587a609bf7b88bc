"""access tokens revoked at the SSO (token.revoked), refused until they expire"""

from ates import revocations

revision, down_revision = "0002", "0001"
upgrade, downgrade = revocations.migration()
