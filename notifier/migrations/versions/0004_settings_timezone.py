"""a popug's own time zone, for the times its pages show (null: the system's ATES_TIMEZONE)"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"


def upgrade():
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_column("timezone")
