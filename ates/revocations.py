"""Access tokens the SSO revoked before they expired, as each resource service learns of them from
auth's `token.revoked` events: the one table and handler every such service keeps in the same way.

A token is verified offline, so without this a revoked one would pass until its `exp`. A row is
needed only until then: each new revocation deletes the rows past their token's expiry.
"""

from sqlalchemy import Column, MetaData, String, Table, delete, exists, insert, select
from sqlalchemy.orm import Session

from ates import clock
from ates.db import UtcDateTime


def revoked_tokens_table(metadata: MetaData) -> Table:
    return Table(
        "revoked_tokens",
        metadata,
        Column("jti", String(255), primary_key=True),
        Column("account_id", String(36), nullable=False),
        Column("expires_at", UtcDateTime(), nullable=False, index=True),
    )


def create_table(op) -> None:
    """The migration that adds the table, the same in every consuming service (Alembic's `op`)."""
    import sqlalchemy as sa

    op.create_table(
        'revoked_tokens',
        sa.Column('jti', sa.String(length=255), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens')),
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'], unique=False
        )


def drop_table(op) -> None:
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))
    op.drop_table('revoked_tokens')


def migration():
    """The (upgrade, downgrade) of a service's migration that adds the table."""
    from alembic import op

    return (lambda: create_table(op), lambda: drop_table(op))


def remember(session: Session, table: Table, data: dict) -> None:
    """The body of each service's `on_token_revoked` handler; a duplicate event adds nothing."""
    session.execute(delete(table).where(table.c.expires_at < clock.utcnow()))
    if session.scalar(select(table.c.jti).where(table.c.jti == data["jti"])) is None:
        session.execute(
            insert(table).values(
                jti=data["jti"],
                account_id=data["account_id"],
                expires_at=clock.from_wire(data["expires_at"]),
            )
        )


def is_revoked(session: Session, table: Table, jti: str) -> bool:
    return session.scalar(select(revoked(table, jti))) is True


def revoked(table: Table, jti):
    """`EXISTS` a row for `jti` (a value or a bound parameter): a clause, so a caller can ask it in
    a statement with others."""
    return exists().where(table.c.jti == jti)
