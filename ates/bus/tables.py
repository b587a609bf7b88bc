"""The two tables the bus keeps in every service's own database: the outbox and the inbox."""

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, text

from ates.db import UtcDateTime


def outbox_table(metadata: MetaData) -> Table:
    """Events committed with the change that caused them, waiting for the relay. The relay finds
    the waiting ones in a partial index of the unpublished rows' ids (bus tables version 2)."""
    unpublished = text("published_at IS NULL")
    return Table(
        "outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("routing_key", String(120), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime()),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=unpublished,
            sqlite_where=unpublished,
        ),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Ids of the events a consumer has applied, committed with what applying them changed."""
    return Table(
        "inbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("applied_at", UtcDateTime(), nullable=False),
    )
