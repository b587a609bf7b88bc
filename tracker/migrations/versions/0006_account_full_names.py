"""the accounts replica keeps each popug's full name, so pages show people by name"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0006", "0005"


def upgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("full_name", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("full_name")
