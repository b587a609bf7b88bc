"""The PostgreSQL pool pings a connection that sat idle before handing it out, and only such a one."""

import pytest
from sqlalchemy import exc, text

from ates import db
from ates.db import make_engine
from tests.databases import postgres_database


@pytest.fixture
def engine():
    with postgres_database("pool") as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        yield engine
        engine.dispose()


def server_drops_the_pooled_connection(engine) -> None:
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    admin = make_engine(engine.url.render_as_string(hide_password=False))  # a pool of its own
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_the_server_closed_is_replaced(engine, monkeypatch):
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_S", 0.0)  # every connection counts as idle
    server_drops_the_pooled_connection(engine)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT 41 + 1")) == 42


def test_a_connection_used_moments_ago_is_not_pinged(engine, monkeypatch):
    """The other side of the bargain: no round trip for a busy connection, so a server that went
    away under it fails that one statement (and SQLAlchemy then drops the pool)."""
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_S", 3600.0)
    server_drops_the_pooled_connection(engine)
    with pytest.raises(exc.OperationalError), engine.connect() as connection:
        connection.scalar(text("SELECT 1"))
    with engine.connect() as connection:  # the pool was emptied; a new connection works
        assert connection.scalar(text("SELECT 1")) == 1
