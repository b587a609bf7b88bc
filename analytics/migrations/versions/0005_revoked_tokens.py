"""access tokens revoked at the SSO (token.revoked), refused until they expire"""

from ates import revocations

revision, down_revision = "0005", "0004"
upgrade, downgrade = revocations.migration()
