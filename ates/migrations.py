"""Alembic driven from code: each service keeps its own `migrations/` next to its models."""

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from ates.db import make_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str) -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic_config() sets sqlalchemy.url; this env.py runs only through it")
    if context.is_offline_mode():
        context.configure(
            url=url, literal_binds=True, target_metadata=metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        # render_as_batch: SQLite alters a table by copying it
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


# The bus tables as each version of them was made. A service's first migration calls the version
# it was written for; a later change to the bus tables becomes version 2 here, and a new migration
# in each service calls upgrade_bus_tables(2, ...). Old migrations never change what they make.
#   2: the outbox's index of unpublished rows is partial, `(id) WHERE published_at IS NULL`: the
#      relay's next rows are the first entries of a small index, whatever the planner's statistics
#      say (with `(published_at, id)` it chose to read every unpublished row and sort: 8 ms a look).
BUS_TABLES_VERSIONS = (1, 2)


def create_bus_tables(version: int, outbox: bool, inbox: bool) -> None:
    """Inside a migration's upgrade(): the outbox (a producer's) and the inbox (a consumer's)."""
    import sqlalchemy as sa
    from alembic import op

    _known_version(version)
    if inbox:
        op.create_table(
            "inbox",
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("event_type", sa.String(length=100), nullable=False),
            sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("event_id", name=op.f("pk_inbox")),
        )
    if outbox:
        op.create_table(
            "outbox",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("event_type", sa.String(length=100), nullable=False),
            sa.Column("routing_key", sa.String(length=120), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
            sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        )
        _create_unpublished_index(version)


def _create_unpublished_index(version: int) -> None:
    import sqlalchemy as sa
    from alembic import op

    if version == 1:
        op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"], unique=False)
    else:
        unpublished = sa.text("published_at IS NULL")
        op.create_index(
            "ix_outbox_unpublished",
            "outbox",
            ["id"],
            unique=False,
            postgresql_where=unpublished,
            sqlite_where=unpublished,
        )


def drop_bus_tables(version: int, outbox: bool, inbox: bool) -> None:
    """Inside a migration's downgrade(): the reverse of create_bus_tables at the same version."""
    from alembic import op

    _known_version(version)
    if outbox:
        op.drop_index("ix_outbox_unpublished", table_name="outbox")
        op.drop_table("outbox")
    if inbox:
        op.drop_table("inbox")


def bus_tables_migration(version: int, outbox: bool, inbox: bool):
    """A first migration's (upgrade, downgrade): `upgrade, downgrade = bus_tables_migration(1, ...)`."""
    _known_version(version)
    return (
        lambda: create_bus_tables(version, outbox, inbox),
        lambda: drop_bus_tables(version, outbox, inbox),
    )


def bus_tables_upgrade(version: int, outbox: bool):
    """(upgrade, downgrade) of a service's migration taking its bus tables from `version - 1` to
    `version`; `outbox`: whether the service has one (the changes so far are all the outbox's)."""
    from alembic import op

    _known_version(version)
    if version < 2:
        raise ValueError("version 1 is made by bus_tables_migration, not upgraded to")

    def move(to_version: int) -> None:
        if outbox:
            op.drop_index("ix_outbox_unpublished", table_name="outbox")
            _create_unpublished_index(to_version)

    return lambda: move(version), lambda: move(version - 1)


def outbox_wakeup_migration():
    """(upgrade, downgrade) of the trigger that wakes the relay when the outbox gets rows
    (ates/bus/wakeup.py): on PostgreSQL a statement trigger sending NOTIFY; elsewhere nothing."""
    from ates.bus.wakeup import DROP_TRIGGER_SQL, TRIGGER_SQL

    def run(statements: tuple[str, ...]) -> None:
        from alembic import op

        if op.get_bind().dialect.name == "postgresql":
            for statement in statements:
                op.execute(statement)

    return lambda: run(TRIGGER_SQL), lambda: run(DROP_TRIGGER_SQL)


def _known_version(version: int) -> None:
    if version not in BUS_TABLES_VERSIONS:
        raise ValueError(f"no bus tables version {version}; there are {BUS_TABLES_VERSIONS}")


def drop_tables(*names: str) -> None:
    """Inside a migration's downgrade(): drop each table, in the order given; its indexes go with it."""
    from alembic import op

    for name in names:
        op.drop_table(name)
