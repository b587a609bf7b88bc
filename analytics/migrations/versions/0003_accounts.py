"""whether each account is active, to refuse a deactivated account's token"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003", "0002"


def upgrade():
    op.create_table(
        'accounts',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_accounts')),
    )


def downgrade():
    op.drop_table('accounts')
