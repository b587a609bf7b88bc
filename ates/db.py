"""Database engines: SQLite for development (one file per service under var/), PostgreSQL in production."""

import io
import re
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    DateTime,
    MetaData,
    Numeric,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    exc,
    insert,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg2
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

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


def make_engine(url: "str | URL", **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # the driver aTES installs, whatever SQLAlchemy's default
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() != "sqlite":
        # An UPDATE or DELETE for many rows (a reassignment batch's 500 tasks) goes in pages of
        # psycopg2's execute_batch, not one round trip per row; INSERTs are batched already.
        # Its rowcount is then not the total, and no caller asks an executemany for one.
        kwargs.setdefault("executemany_mode", "values_plus_batch")
        engine = create_engine(parsed, **kwargs)
        event.listen(engine.pool, "checkin", _note_when_idle)
        event.listen(engine.pool, "checkout", _ping_if_idle)
        return engine
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


# A pooled connection that sat idle may have been closed by the server (a restart, a failover, an
# idle timeout on the way): it is pinged before use and replaced if dead. One busy in the last few
# seconds is not: SQLAlchemy's pool_pre_ping pings on every checkout, which cost a round trip per
# unit of work — two of the eight a tracker request made (bench.http). A server that goes away
# under a busy connection fails that one statement; SQLAlchemy then drops the whole pool.
IDLE_BEFORE_PING_S = 5.0


def _note_when_idle(_dbapi_connection, record):
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy):
    if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_BEFORE_PING_S:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as error:  # the driver's own errors: the pool retries with a new connection
        raise exc.DisconnectionError(f"a pooled connection was dead: {error}") from error


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


def dialect_of(session: Session) -> str:
    """The session's database, "sqlite" or "postgresql": the two aTES runs on, and the two its
    ON CONFLICT statements are written for (any other is refused here, not at its first conflict)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise RuntimeError(f"aTES' SQL is written for SQLite and PostgreSQL, not {dialect}")
    return dialect


def insert_on_conflict(dialect: str, table: Table):
    """An INSERT that can say what a conflict on a unique key does (`.on_conflict_do_nothing()`,
    `.on_conflict_do_update()`), as the database speaks it. Two workers racing to write the same
    key then need no look-up first: the loser's statement waits for the winner and does nothing or
    merges, in one round trip."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def insert_if_absent(session: Session, table: Table, *keys: str):
    """An INSERT that does nothing (rowcount 0) when a row with the same `keys` exists."""
    statement = insert_on_conflict(dialect_of(session), table)
    return statement.on_conflict_do_nothing(index_elements=list(keys))


def insert_together(session: Session, *writes: tuple[Table, list[dict]]) -> None:
    """Insert each `(table, rows)` in the session's transaction; on PostgreSQL all in one statement
    (`WITH w0 AS (INSERT ...), w1 AS (INSERT ...) INSERT ...`), so one round trip instead of one
    per table: a tracker task, its activity rows and its events (bench.http). The rows of a table
    share their keys. PostgreSQL runs a statement's parts on one snapshot and checks foreign keys
    at its end, so a row may refer to one inserted beside it; statement triggers fire as usual."""
    writes = tuple((table, rows) for table, rows in writes if rows)
    if len(writes) < 2 or session.get_bind().dialect.name != "postgresql":
        for table, rows in writes:
            session.execute(insert(table), rows)
        return
    shape = tuple((table, tuple(rows[0]), len(rows)) for table, rows in writes)
    parameters = {
        f"w{w}_{r}_{column}": row[column]
        for w, (table, rows) in enumerate(writes)
        for r, row in enumerate(rows)
        for column in shape[w][1]
    }
    session.execute(_inserted_together(shape), parameters)


@lru_cache(maxsize=64)
def _inserted_together(shape: tuple) -> TextClause:
    """The statement for one shape ((table, columns, row count), ...), built and compiled once.
    SQLAlchemy does not cache the compiled form of INSERTs inside a WITH (compiling took more
    than the round trip it saves), so it is kept as text, its parameters typed as their columns."""
    parts, typed = [], []
    for w, (table, columns, count) in enumerate(shape):
        rows = []
        for r in range(count):
            row = {}
            for column in columns:
                row[column] = bindparam(f"w{w}_{r}_{column}", type_=table.c[column].type)
                typed.append(row[column])
            rows.append(row)
        parts.append(insert(table).values(rows))
    *first, last = parts
    statement = last.add_cte(*(part.cte(f"w{w}") for w, part in enumerate(first)))
    sql = str(statement.compile(dialect=psycopg2.dialect(paramstyle="named")))
    return text(sql).bindparams(*typed)


def insert_many(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert many rows of one table in the session's transaction. On PostgreSQL with COPY: the
    server parses no SQL and the client builds no statement, for half the time of a multi-row
    INSERT (a reassignment batch's 1,000 events, bench.reassign); elsewhere an executemany. The
    rows share their keys; each value passes its column type's own conversion first (a naive
    time is refused as in any insert). Triggers and constraints apply as for an INSERT."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    convert = _converters(table, tuple(columns), connection.dialect)
    pairs = tuple(zip(columns, convert, strict=True))
    lines = "".join("\t".join([_copy_text(to(row[c])) for c, to in pairs]) + "\n" for row in rows)
    names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    quoted_table = connection.dialect.identifier_preparer.format_table(table)
    statement = f"COPY {quoted_table} ({names}) FROM STDIN"
    driver = connection.dialect.loaded_dbapi
    cursor: Any = connection.connection.cursor()  # psycopg2's, with copy_expert
    try:
        cursor.copy_expert(statement, io.StringIO(lines))
    except driver.Error as error:  # as SQLAlchemy's own (IntegrityError...), like any statement's
        raise exc.DBAPIError.instance(statement, None, error, driver.Error) from error
    finally:
        cursor.close()


def update_many(session: Session, table: Table, key: str, rows: list[dict]) -> None:
    """Update many rows of one table, each found by its `key` column and given the values beside
    it. On PostgreSQL one statement joins the table to the rows passed as arrays (`unnest`), its
    text the same whatever the number of rows; elsewhere an executemany of single-row UPDATEs."""
    if not rows:
        return
    connection = session.connection()
    columns = tuple(rows[0])
    if connection.dialect.name != "postgresql":
        assigned: dict[str, Any] = {c: bindparam(f"new_{c}") for c in columns if c != key}
        session.execute(
            update(table).where(table.c[key] == bindparam(f"new_{key}")).values(assigned),
            [{f"new_{c}": row[c] for c in columns} for row in rows],
        )
        return
    convert = _converters(table, columns, connection.dialect)
    arrays = {
        f"a{n}": [to(row[c]) for row in rows]
        for n, (c, to) in enumerate(zip(columns, convert, strict=True))
    }
    connection.exec_driver_sql(_update_from_arrays(table, key, columns, connection.dialect), arrays)


@lru_cache(maxsize=64)
def _update_from_arrays(table: Table, key: str, columns: tuple, dialect) -> str:
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"%(a{n})s::{table.c[c].type.compile(dialect)}[]" for n, c in enumerate(columns)
    )
    names = ", ".join(quote(c) for c in columns)
    assigned = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns if c != key)
    name = dialect.identifier_preparer.format_table(table)
    key_array = f"%(a{columns.index(key)})s::{table.c[key].type.compile(dialect)}[]"
    # `= ANY` of the keys as well as the join: the table's rows are then found by its index of
    # the key whatever the planner believes of the table's size (on a table loaded a moment ago
    # it joined by hashing every row)
    return (
        f"UPDATE {name} SET {assigned} FROM unnest({arrays}) AS v({names}) "
        f"WHERE {name}.{quote(key)} = v.{quote(key)} AND {name}.{quote(key)} = ANY({key_array})"
    )


@lru_cache(maxsize=64)
def _converters(table: Table, columns: tuple, dialect) -> tuple:
    """Each column's bind conversion (UtcDateTime's UTC check, say), or the value as it is."""
    return tuple(table.c[c].type.bind_processor(dialect) or _as_is for c in columns)


def _as_is(value):
    return value


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _copy_text(value) -> str:
    """A value in COPY's text format: NULL as \\N, special characters escaped."""
    if value is None:
        return "\\N"
    if value.__class__ is str:  # most values: looked through in C, rarely rewritten
        return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)
