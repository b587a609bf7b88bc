"""the access token issued with each refresh token, announced when its family is revoked"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003", "0002"


def upgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_jti', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('access_expires_at')
        batch_op.drop_column('access_jti')
