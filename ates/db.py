"""Database engines: SQLite for development (one file per service under var/), PostgreSQL in production."""

from datetime import UTC
from pathlib import Path

from sqlalchemy import DateTime, MetaData, Numeric, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine, make_url

READ_ONLY = "ates_read_only"  # an engine execution option: a read, which _begin_immediate lets begin deferred

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A service's MetaData, with constraint names Alembic can find again on any database."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def Money() -> Numeric:  # noqa: N802 - reads as a column type
    """Exact two-place money; SQLite keeps it as a number, read back as a Decimal (ates/money.py)."""
    return Numeric(12, 2, asdecimal=True)


class UtcDateTime(TypeDecorator):
    """A moment that is UTC-aware going in and coming out, on SQLite too (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: aTES times are UTC-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # the driver aTES installs, whatever SQLAlchemy's default
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite(dbapi_connection, _record):
    # Let SQLAlchemy, not the driver, decide where transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the web process reads while the worker writes
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection):
    # Web and worker processes share the file. Taking the write lock at BEGIN makes a second
    # writer wait (busy timeout) instead of failing when a read turns into a write. Readers
    # need no lock in WAL mode, so a read (UnitOfWork.read) begins the plain, deferred way.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
