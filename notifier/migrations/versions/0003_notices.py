"""notices, their mail, and what they are made from: accounts, tasks, reassignment moves, days"""

import sqlalchemy as sa
from alembic import op

from ates.migrations import drop_tables

revision, down_revision = "0003", "0002"


def upgrade():
    op.create_table(
        'accounts',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('full_name', sa.String(length=200), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_accounts')),
    )
    op.create_table(
        'day_activity',
        sa.Column('billing_date', sa.Date(), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('earned', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('fees', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('paid_out', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('balance', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('balance_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('billing_date', 'account_id', name=op.f('pk_day_activity')),
    )
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('notice_id', sa.String(length=36), nullable=False),
        sa.Column('subject_key', sa.String(length=120), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=True),
        sa.Column('facts', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
        sa.UniqueConstraint('notice_id', name=op.f('uq_notices_notice_id')),
        sa.UniqueConstraint('subject_key', name=op.f('uq_notices_subject_key')),
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_account', ['account_id', 'id'], unique=False)

    op.create_table(
        'notification_settings',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('task_mail', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_notification_settings')),
    )
    op.create_table(
        'payouts',
        sa.Column('payout_id', sa.String(length=36), nullable=False),
        sa.Column('billing_date', sa.Date(), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint('payout_id', name=op.f('pk_payouts')),
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_billing_date'), ['billing_date'], unique=False)

    op.create_table(
        'reassignment_changes',
        sa.Column('reassignment_id', sa.String(length=36), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('change', sa.String(length=4), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notice_id', sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint(
            'reassignment_id', 'task_id', 'change', name=op.f('pk_reassignment_changes')
        ),
    )
    with op.batch_alter_table('reassignment_changes', schema=None) as batch_op:
        batch_op.create_index(
            'ix_reassignment_changes_waiting', ['notice_id', 'reassignment_id'], unique=False
        )

    op.create_table(
        'tasks',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('jira_id', sa.String(length=40), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=True),
        sa.Column('details_version', sa.Integer(), nullable=True),
        sa.Column('assign_fee', sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column('completion_reward', sa.Numeric(precision=12, scale=2), nullable=True),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_tasks')),
    )
    op.create_table(
        'mails',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('notice_id', sa.String(length=36), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['notice_id'], ['notices.notice_id'], name=op.f('fk_mails_notice_id_notices')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mails')),
        sa.UniqueConstraint('message_id', name=op.f('uq_mails_message_id')),
        sa.UniqueConstraint('notice_id', name=op.f('uq_mails_notice_id')),
    )
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mails_status'), ['status'], unique=False)


def downgrade():
    drop_tables(
        "mails",
        "notification_settings",
        "notices",
        "payouts",
        "day_activity",
        "reassignment_changes",
        "tasks",
        "accounts",
    )
