"""each account's current role, so the API authorises by it rather than by a token's old claim

Rows from before stay without a role (the token's claim is used for them) until `rebuild`
replays the archived account events.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"


def upgrade():
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('role', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('role')
