"""refresh tokens carry the deadline of the sign-in they descend from; clients their scopes"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"


def upgrade():
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        # What both clients could be granted before; auth's start writes the configured scopes over it.
        batch_op.add_column(
            sa.Column(
                'scopes',
                sa.Text(),
                nullable=False,
                server_default='openid profile email offline_access',
            )
        )
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.alter_column('scopes', existing_type=sa.Text(), server_default=None)
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('family_expires_at', sa.DateTime(timezone=True), nullable=True)
        )
    # A token issued before the deadline existed ends its family when it expires itself (≤ 14 days).
    op.execute("UPDATE refresh_tokens SET family_expires_at = expires_at")
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.alter_column(
            'family_expires_at', existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade():
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_column('scopes')
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('family_expires_at')
