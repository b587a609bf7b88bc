"""read models and the event archive"""

import sqlalchemy as sa
from alembic import op

from ates.migrations import drop_tables

revision, down_revision = "0002", "0001"


def upgrade():
    op.create_table(
        'account_balances',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('balance', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_account_balances')),
    )
    op.create_index('ix_account_balances_balance', 'account_balances', ['balance'])

    op.create_table(
        'completions',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('reward', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_completions')),
    )
    op.create_table(
        'daily_income',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('management_income', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_daily_income')),
    )
    op.create_table(
        'daily_top_task',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('reward', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_daily_top_task')),
    )
    op.create_table(
        'event_archive',
        sa.Column('sequence', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('event_type', sa.String(length=100), nullable=False),
        sa.Column('event_version', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sequence', name=op.f('pk_event_archive')),
        sa.UniqueConstraint('event_id', name=op.f('uq_event_archive_event_id')),
    )
    op.create_table(
        'task_details',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('jira_id', sa.String(length=40), nullable=True),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_task_details')),
    )
    op.create_table(
        'task_prices',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('assign_fee', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('reward', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_task_prices')),
    )


def downgrade():
    drop_tables(
        "task_prices",
        "task_details",
        "event_archive",
        "daily_top_task",
        "daily_income",
        "completions",
        "account_balances",
    )  # each table's indexes go with it
