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

`read_one`, `read_all` and `write_alone` are for one statement that needs no transaction around
it: the guard's question before a request's work, the relay's look at its waiting rows and its
marking them published. On PostgreSQL they run in autocommit, on a pool of their own, which spares
the BEGIN and the COMMIT or ROLLBACK round trips (a statement log of bench.latency showed each relay
cycle as BEGIN/SELECT/ROLLBACK, BEGIN/UPDATE/COMMIT: six round trips for two statements); switching
a pooled connection in and out of autocommit would cost a round trip each way. SQLite's
transactions cost no round trip, so there they are ordinary sessions. `read()` keeps its
transaction, rolled back at the end: it is what makes a write inside a read harmless, and a
server-side read-only setting would need a start-up parameter that PgBouncer refuses.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ates.db import READ_ONLY, make_engine


class UnitOfWork:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._writers = sessionmaker(engine, expire_on_commit=False)
        self._readers = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._alone = (
            make_engine(engine.url, isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )
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
        if self._alone is None or self._joined.get() is not None:
            with self.read() as session:
                result = session.execute(statement, parameters)
                return result.one() if one else result.all()
        with self._alone.connect() as connection:
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
        if self._alone is not None:
            self._alone.dispose()
