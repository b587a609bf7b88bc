"""a partial index of the reassignment items not yet done replaces the index of `done`"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009", "0008"


def upgrade():
    op.drop_index("ix_reassignment_items_done", table_name="reassignment_items")
    op.create_index(
        "ix_reassignment_items_undone",
        "reassignment_items",
        ["reassignment_id", "task_id"],
        unique=False,
        postgresql_where=sa.text("done IS false"),
        sqlite_where=sa.text("done IS 0"),
    )


def downgrade():
    op.drop_index("ix_reassignment_items_undone", table_name="reassignment_items")
    op.create_index("ix_reassignment_items_done", "reassignment_items", ["done"], unique=False)
