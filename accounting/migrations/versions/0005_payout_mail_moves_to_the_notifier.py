"""payout mail moves to the notifier: accounting's mail outbox goes

The notifier's end-of-day mail tells each popug its day, the payout included, so a popug gets one
mail at the end of the day, not two (docs/notifier.md). Mail still pending here when this runs is
not sent: upgrade after the outbox is empty (`SELECT count(*) FROM emails WHERE status =
'pending'`), or accept that those popugs learn of that payout from the notifier only if it was
consuming accounting's events then. Going down makes the table again, empty.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005", "0004"


def upgrade():
    op.drop_table("emails")


def downgrade():
    op.create_table(
        "emails",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payout_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.payout_id"], name=op.f("fk_emails_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_emails_payout_id")),
    )
    op.create_index(op.f("ix_emails_status"), "emails", ["status"])
