"""A fresh PostgreSQL database for one test, on the server bin/test makes sure is running."""

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import event

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork

TRACKER_MIGRATIONS = Path(__file__).resolve().parents[1] / "tracker" / "migrations"
POSTGRES_ADMIN_URL = os.environ.get(
    "ATES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def postgres_database(purpose: str = "test") -> Iterator[str]:
    """Created empty, dropped afterwards (connections and all); yields its URL."""
    import psycopg2  # only the PostgreSQL runs need it

    name = f"ates_{purpose}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def statements_sent(engine) -> Iterator[list[str]]:
    """The SQL `engine` sends inside the block, in order, as the driver gets it (BEGIN included
    where the dialect sends it as a statement, as SQLite's BEGIN IMMEDIATE is)."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


@contextmanager
def tracker_unit_of_work(database: str, tmp_path, purpose: str) -> Iterator[UnitOfWork]:
    """The tracker's schema, migrated, on `database` ("sqlite" in tmp_path, or "postgresql": a
    fresh database), behind a unit of work; disposed and dropped afterwards."""
    with ExitStack() as stack:
        url = (
            stack.enter_context(postgres_database(purpose))
            if database == "postgresql"
            else f"sqlite:///{tmp_path / 'tracker.db'}"
        )
        migrations.upgrade(TRACKER_MIGRATIONS, url)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield UnitOfWork(engine)
