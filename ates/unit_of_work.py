"""The one way a process reaches its database: a unit of work, built once per process.

`service_app` (ates/web.py) and the worker runner (ates/bus/worker.py) build it from the settings
and hand it to everything that touches the database: API views, handlers (through the inbox),
jobs, the outbox relay.

    with uow.begin() as session:   # a write: commits when the block ends, rolls back if it raises
        ...
    with uow.read() as session:    # a read: never takes SQLite's write lock, never commits
        ...
    uow.read_one(statement)        # the one row of one read statement
    uow.write_alone(statement)     # one write statement, committed on its own

Who opens the transaction: the function that decides where one ends. A web view or a job calls a
use case with the unit of work when the use case needs more than one transaction (a login that
records a failure and still refuses, a billing day paid account by account); otherwise the caller
opens one and passes the session down. Handlers always run inside the transaction the inbox opened
for their event, so the event's effects and its inbox row commit together.

    with uow.one_transaction():    # every begin() and read() inside joins one transaction
        ...

`one_transaction` is for a caller that must commit something together with whatever a use case
does, however many units it opens: an HTTP write and its stored answer (ates/idempotency.py).
Inside it a read sees the block's own writes, and nothing commits before the block ends.

On PostgreSQL a read runs without a transaction around it, on connections of its own that are
read-only (`default_transaction_read_only`): at READ COMMITTED, the isolation aTES uses, each
statement of a transaction takes its own snapshot anyway, so a read transaction bought no
consistency, only a BEGIN and a ROLLBACK round trip. A write inside `read()` fails there instead
of being rolled back. `write_alone` is for a statement that is a transaction by itself (the relay
marking rows published): autocommit spares the BEGIN and COMMIT round trips. Each kind has a pool
of its own; switching a pooled connection in and out of autocommit costs a round trip each way.
SQLite's transactions cost no round trip, so there everything goes through ordinary sessions.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ates.db import READ_ONLY, make_engine, read_only_autocommit


class UnitOfWork:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._writers = sessionmaker(engine, expire_on_commit=False)
        postgres = engine.dialect.name == "postgresql"
        reading = (
            read_only_autocommit(engine.url)
            if postgres
            else engine.execution_options(**{READ_ONLY: True})
        )
        self._readers = sessionmaker(reading, expire_on_commit=False)
        self._reading = reading if postgres else None
        self._alone = make_engine(engine.url, isolation_level="AUTOCOMMIT") if postgres else None
        # the session of the one_transaction() this thread (or task) is inside, if any
        self._joined: ContextVar[Session | None] = ContextVar(f"ates_uow_{id(self)}", default=None)

    @classmethod
    def from_url(cls, database_url: str, **engine_kwargs) -> "UnitOfWork":
        return cls(make_engine(database_url, **engine_kwargs))

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One write transaction: committed at the end of the block, rolled back if it raises."""
        joined = self._joined.get()
        if joined is not None:  # part of one_transaction(): it commits there
            yield joined
            return
        with self._writers.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read: whatever the block wrote is rolled back, so a read can never commit by mistake."""
        joined = self._joined.get()
        if joined is not None:  # inside one_transaction(): reads see what it wrote so far
            yield joined
            return
        with self._readers() as session:
            try:
                yield session
            finally:
                session.rollback()

    def read_one(self, statement, parameters: dict | None = None):
        """The one row a single read statement returns: what a request asks before its work
        (ates/tokens.py). Inside one_transaction(), it joins."""
        return self.read_all(statement, parameters, one=True)

    def read_all(self, statement, parameters: dict | None = None, one: bool = False):
        """The rows of one read statement (the one row, `one`), as cheaply as the database allows:
        on PostgreSQL a Core connection in autocommit, no ORM session around it."""
        if self._reading is None or self._joined.get() is not None:
            with self.read() as session:
                result = session.execute(statement, parameters)
                return result.one() if one else result.all()
        with self._reading.connect() as connection:
            result = connection.execute(statement, parameters)
            return result.one() if one else result.all()

    def write_alone(self, statement, parameters: dict | None = None) -> None:
        """One write statement as a transaction of its own, committed when this returns (on
        PostgreSQL in autocommit: no BEGIN, no COMMIT round trip). Inside one_transaction(), it
        joins and commits with the block."""
        if self._alone is None or self._joined.get() is not None:
            with self.begin() as session:
                session.execute(statement, parameters)
            return
        with self._alone.connect() as connection:
            connection.execute(statement, parameters)

    @contextmanager
    def one_transaction(self) -> Iterator[Session]:
        """Every begin() and read() of this unit inside the block joins one transaction, committed
        when the block ends and rolled back if it raises."""
        if self._joined.get() is not None:
            raise RuntimeError("one_transaction() inside another one of the same unit of work")
        with self._writers.begin() as session:
            token = self._joined.set(session)
            try:
                yield session
            finally:
                self._joined.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()
        for engine in (self._reading, self._alone):
            if engine is not None:
                engine.dispose()
