"""the assignee of record: who the tracker last assigned each task to, and when

A completion pays its reward only to this popug (a forged or stale completion waits, then dies).
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"


def upgrade():
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('assignee_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('assigned_at')
        batch.drop_column('assignee_id')
