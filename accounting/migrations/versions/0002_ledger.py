"""the ledger: prices, balances, transactions, billing days, payouts, emails, accounts replica"""

import sqlalchemy as sa
from alembic import op

from ates.migrations import drop_tables

revision, down_revision = "0002", "0001"


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
        'balances',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_balances')),
    )
    op.create_table(
        'billing_days',
        sa.Column('billing_date', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closing_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('payouts', sa.Integer(), nullable=True),
        sa.Column('total_paid', sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column('management_income', sa.Numeric(precision=12, scale=2), nullable=True),
        sa.PrimaryKeyConstraint('billing_date', name=op.f('pk_billing_days')),
    )
    op.create_index(op.f('ix_billing_days_status'), 'billing_days', ['status'])

    op.create_table(
        'tasks',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('assign_fee', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('completion_reward', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('priced_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rewarded', sa.Boolean(), nullable=False),
        sa.Column('jira_id', sa.String(length=40), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('details_version', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_tasks')),
    )
    op.create_table(
        'transactions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('transaction_id', sa.String(length=36), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('balance_after', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=True),
        sa.Column('billing_date', sa.Date(), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions')),
        sa.UniqueConstraint('transaction_id', name=op.f('uq_transactions_transaction_id')),
    )
    op.create_index('ix_transactions_account_day', 'transactions', ['account_id', 'billing_date'])
    op.create_index('ix_transactions_day_kind', 'transactions', ['billing_date', 'kind'])

    op.create_table(
        'payouts',
        sa.Column('payout_id', sa.String(length=36), nullable=False),
        sa.Column('billing_date', sa.Date(), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('transaction_id', sa.String(length=36), nullable=False),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['billing_date'],
            ['billing_days.billing_date'],
            name=op.f('fk_payouts_billing_date_billing_days'),
        ),
        sa.PrimaryKeyConstraint('payout_id', name=op.f('pk_payouts')),
        sa.UniqueConstraint(
            'billing_date', 'account_id', name='uq_payouts_billing_date_account_id'
        ),
    )
    op.create_table(
        'emails',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('payout_id', sa.String(length=36), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['payout_id'], ['payouts.payout_id'], name=op.f('fk_emails_payout_id_payouts')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_emails')),
        sa.UniqueConstraint('payout_id', name=op.f('uq_emails_payout_id')),
    )
    op.create_index(op.f('ix_emails_status'), 'emails', ['status'])


def downgrade():
    drop_tables(
        "emails", "payouts", "transactions", "tasks", "billing_days", "balances", "accounts"
    )  # each table's indexes go with it
