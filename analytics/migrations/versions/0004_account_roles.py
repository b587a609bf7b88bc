"""each account's current role, so the API authorises by it rather than by a token's old claim

Rows from before stay without a role (the token's claim is used for them) until `rebuild`
replays the archived account events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('role', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('role')
