"""reassignments remember the correlation id of the request that started them

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correlation_id', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.drop_column('correlation_id')
