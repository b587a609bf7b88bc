"""reassignments remember the correlation id of the request that started them"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003", "0002"


def upgrade():
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correlation_id', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.drop_column('correlation_id')
