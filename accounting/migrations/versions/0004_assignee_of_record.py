"""the assignee of record: who the tracker last assigned each task to, and when

A completion pays its reward only to this popug (a forged or stale completion waits, then dies).

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
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('assignee_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('assigned_at')
        batch.drop_column('assignee_id')
