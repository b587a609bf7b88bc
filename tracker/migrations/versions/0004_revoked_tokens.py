"""access tokens revoked at the SSO (token.revoked), refused until they expire

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op

from ates import revocations


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    revocations.create_table(op)


def downgrade():
    revocations.drop_table(op)
