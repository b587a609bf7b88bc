"""accounts, beak prints, login failures, OAuth clients, codes, refresh tokens, signing keys"""

import sqlalchemy as sa
from alembic import op

from ates.migrations import drop_tables

revision, down_revision = "0002", "0001"


def upgrade():
    op.create_table(
        'accounts',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('full_name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_accounts')),
        sa.UniqueConstraint('username', name=op.f('uq_accounts_username')),
    )
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('client_key', sa.String(length=400), nullable=False),
        sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    )
    op.create_index(
        'ix_login_failures_client_key_failed_at', 'login_failures', ['client_key', 'failed_at']
    )
    op.create_index('ix_login_failures_failed_at', 'login_failures', ['failed_at'])

    op.create_table(
        'oauth_clients',
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=True),
        sa.Column('redirect_uris', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('client_id', name=op.f('pk_oauth_clients')),
    )
    op.create_table(
        'revoked_access_tokens',
        sa.Column('jti', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_access_tokens')),
    )
    op.create_table(
        'signing_keys',
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('private_pem', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys')),
    )
    op.create_table(
        'authorization_codes',
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('family_id', sa.String(length=36), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('redirect_uri', sa.Text(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('nonce', sa.String(length=255), nullable=True),
        sa.Column('code_challenge', sa.String(length=128), nullable=False),
        sa.Column('code_challenge_method', sa.String(length=10), nullable=False),
        sa.Column('auth_time', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['account_id'],
            ['accounts.account_id'],
            name=op.f('fk_authorization_codes_account_id_accounts'),
        ),
        sa.ForeignKeyConstraint(
            ['client_id'],
            ['oauth_clients.client_id'],
            name=op.f('fk_authorization_codes_client_id_oauth_clients'),
        ),
        sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_authorization_codes')),
    )
    op.create_index(
        'ix_authorization_codes_client_id_nonce', 'authorization_codes', ['client_id', 'nonce']
    )
    op.create_index(
        op.f('ix_authorization_codes_expires_at'), 'authorization_codes', ['expires_at']
    )

    op.create_table(
        'beak_prints',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('print_hash', sa.String(length=32), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['account_id'], ['accounts.account_id'], name=op.f('fk_beak_prints_account_id_accounts')
        ),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_beak_prints')),
    )
    op.create_table(
        'refresh_tokens',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('family_id', sa.String(length=36), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['account_id'],
            ['accounts.account_id'],
            name=op.f('fk_refresh_tokens_account_id_accounts'),
        ),
        sa.ForeignKeyConstraint(
            ['client_id'],
            ['oauth_clients.client_id'],
            name=op.f('fk_refresh_tokens_client_id_oauth_clients'),
        ),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_refresh_tokens')),
    )
    op.create_index(op.f('ix_refresh_tokens_account_id'), 'refresh_tokens', ['account_id'])
    op.create_index(op.f('ix_refresh_tokens_expires_at'), 'refresh_tokens', ['expires_at'])
    op.create_index(op.f('ix_refresh_tokens_family_id'), 'refresh_tokens', ['family_id'])


def downgrade():
    drop_tables(
        "refresh_tokens",
        "beak_prints",
        "authorization_codes",
        "signing_keys",
        "revoked_access_tokens",
        "oauth_clients",
        "login_failures",
        "accounts",
    )  # each table's indexes go with it
