"""access tokens revoked at the SSO (token.revoked), refused until they expire

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op

from ates import revocations


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    revocations.create_table(op)


def downgrade():
    revocations.drop_table(op)
