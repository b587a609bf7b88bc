"""Access tokens the SSO revoked before they expired, as each resource service learns of them from
auth's `token.revoked` events: the one table and handler every such service keeps in the same way.

A token is verified offline, so without this a revoked one would pass until its `exp`. A row is
needed only until then: each new revocation deletes the rows past their token's expiry.
"""
from sqlalchemy import Column, MetaData, String, Table, delete, insert, select
from sqlalchemy.orm import Session

from ates import clock
from ates.db import UtcDateTime


def revoked_tokens_table(metadata: MetaData) -> Table:
    return Table(
        "revoked_tokens", metadata,
        Column("jti", String(255), primary_key=True),
        Column("account_id", String(36), nullable=False),
        Column("expires_at", UtcDateTime(), nullable=False, index=True),
    )


def remember(session: Session, table: Table, data: dict) -> None:
    """The body of each service's `on_token_revoked` handler; a duplicate event adds nothing."""
    session.execute(delete(table).where(table.c.expires_at < clock.utcnow()))
    if session.scalar(select(table.c.jti).where(table.c.jti == data["jti"])) is None:
        session.execute(insert(table).values(
            jti=data["jti"], account_id=data["account_id"], expires_at=clock.from_wire(data["expires_at"])))


def is_revoked(session: Session, table: Table, jti: str) -> bool:
    return session.scalar(select(table.c.jti).where(table.c.jti == jti)) is not None
