"""access tokens revoked at the SSO (token.revoked), refused until they expire"""

from ates import revocations

revision, down_revision = "0004", "0003"
upgrade, downgrade = revocations.migration()
