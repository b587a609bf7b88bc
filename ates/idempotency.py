"""Exactly once over HTTP: the `Idempotency-Key` header on every write of a service's API.

A client that sent a POST, PATCH or DELETE and got no answer (a dropped connection, a killed web
process) cannot know whether it happened. With `Idempotency-Key: <its own unique key>` it may
simply send the same request again (the IETF httpapi draft's semantics):

- the same key with the same request: the first answer again, status and body, nothing redone;
- the same key with another request (method, path, query or body differ): 422;
- the same key while the first request is still being worked on: 409, try again shortly.

How: the key is claimed in a short transaction of its own (`in_flight`, with a lease); then the
view runs inside one transaction (`UnitOfWork.one_transaction`: every `begin()` and `read()` the
view makes joins it) that also stores the answer, so the change and its answer commit together or
not at all. A process killed in between leaves a claim whose change never committed; once its
lease has run out, the same request is simply done (the key is taken over). Keys are scoped to the
caller's account and kept for `KEEP` (24 h), then deleted by the worker (`Cleaner`).
"""

import hashlib
import json
import logging
import threading
import uuid
from datetime import timedelta

from flask import current_app, g, make_response, request
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from ates import clock
from ates.db import UtcDateTime
from ates.unit_of_work import UnitOfWork

HEADER = "Idempotency-Key"
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
LEASE = timedelta(seconds=10)  # a claim older than this, never answered, belongs to a dead process
KEEP = timedelta(hours=24)
MAX_KEY = 255
log = logging.getLogger(__name__)


def idempotency_keys_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("account_id", String(36), primary_key=True),
        Column("key", String(MAX_KEY), primary_key=True),
        Column("fingerprint", String(64), nullable=False),  # sha256 of method, path, query, body
        Column("status", String(10), nullable=False),  # in_flight | done
        Column("claim", String(36), nullable=False),  # who works on it now
        Column("leased_until", UtcDateTime(), nullable=False),
        Column("response_status", Integer),
        Column("response_type", String(100)),
        Column("response_body", Text),
        Column("created_at", UtcDateTime(), nullable=False, index=True),
    )


def migration():
    """(upgrade, downgrade) of the migration that adds the table (a service's own revision)."""

    def upgrade():
        import sqlalchemy as sa
        from alembic import op

        op.create_table(
            "idempotency_keys",
            sa.Column("account_id", sa.String(length=36), nullable=False),
            sa.Column("key", sa.String(length=MAX_KEY), nullable=False),
            sa.Column("fingerprint", sa.String(length=64), nullable=False),
            sa.Column("status", sa.String(length=10), nullable=False),
            sa.Column("claim", sa.String(length=36), nullable=False),
            sa.Column("leased_until", sa.DateTime(timezone=True), nullable=False),
            sa.Column("response_status", sa.Integer(), nullable=True),
            sa.Column("response_type", sa.String(length=100), nullable=True),
            sa.Column("response_body", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_idempotency_keys")),
        )
        op.create_index(
            op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
        )

    def downgrade():
        from alembic import op

        op.drop_table("idempotency_keys")

    return upgrade, downgrade


def init_app(app, table: Table) -> None:
    """Writes of this app's API honour `Idempotency-Key` (the token guards call `call_view`)."""
    app.extensions["ates.idempotency"] = table


def call_view(view, *args, **kwargs):
    """What a token guard runs once it knows the caller (`g.principal`): the view, and for a write
    carrying `Idempotency-Key` in an app that keeps keys, the view exactly once per key."""
    table = current_app.extensions.get("ates.idempotency")
    key = request.headers.get(HEADER)
    if table is None or key is None or request.method not in WRITES:
        return view(*args, **kwargs)
    problem = _invalid_key(key)
    if problem:
        return _answer(400, "invalid_idempotency_key", problem)
    uow: UnitOfWork = current_app.extensions["ates.uow"]
    account_id = g.principal.account_id
    fingerprint = _fingerprint()
    claim = str(uuid.uuid4())
    found = _claim(uow, table, account_id, key, fingerprint, claim)
    if found is not None:
        return found
    try:
        with uow.one_transaction() as session:
            response = make_response(view(*args, **kwargs))
            if response.status_code >= 500:  # not an answer to keep: the claim is let go below
                raise _NotKept(response)
            stored = session.execute(
                update(table)
                .where(
                    table.c.account_id == account_id,
                    table.c.key == key,
                    table.c.claim == claim,
                    table.c.status == "in_flight",
                )
                .values(
                    status="done",
                    response_status=response.status_code,
                    response_type=response.content_type,
                    response_body=response.get_data(as_text=True),
                )
            )
            if _rowcount(stored) != 1:  # our lease ran out and another request took the key over
                raise _LostClaim()
    except _NotKept as not_kept:
        _release(uow, table, account_id, key, claim)
        return not_kept.response
    except _LostClaim:
        return _in_flight()
    except BaseException:
        _release(uow, table, account_id, key, claim)
        raise
    return response


class Cleaner:
    """A worker job: deletes keys older than `keep`, every `interval` seconds."""

    def __init__(self, uow: UnitOfWork, table: Table, keep: timedelta = KEEP, interval: float = 60):
        self.uow, self.table, self.keep, self.interval = uow, table, keep, interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.clean()
            except Exception:  # a database hiccup: the keys are only kept a little longer
                log.exception("cleaning idempotency keys failed; trying again")
            self._stopping.wait(self.interval)

    def clean(self) -> int:
        with self.uow.begin() as session:
            return _rowcount(
                session.execute(
                    delete(self.table).where(self.table.c.created_at < clock.utcnow() - self.keep)
                )
            )

    def stop(self) -> None:
        self._stopping.set()


class _NotKept(Exception):
    def __init__(self, response):
        self.response = response


class _LostClaim(Exception):
    pass


def _claim(uow, table, account_id, key, fingerprint, claim):
    """None when this request may go ahead (the key is claimed for it); else the answer to give."""
    now = clock.utcnow()
    with uow.begin() as session:
        row = (
            session.execute(
                select(table)
                .where(table.c.account_id == account_id, table.c.key == key)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None:
            session.execute(
                insert(table).values(
                    account_id=account_id,
                    key=key,
                    fingerprint=fingerprint,
                    status="in_flight",
                    claim=claim,
                    leased_until=now + LEASE,
                    created_at=now,
                )
            )
            return None
        if row["fingerprint"] != fingerprint:
            return _answer(
                422,
                "idempotency_key_reused",
                f"this {HEADER} was used for another request; a new request needs a new key",
            )
        if row["status"] == "done":
            replay = current_app.response_class(
                row["response_body"],
                status=row["response_status"],
                content_type=row["response_type"],
            )
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        if row["leased_until"] > now:
            return _in_flight()
        session.execute(  # the first try's process died before answering: nothing of it committed
            update(table)
            .where(table.c.account_id == account_id, table.c.key == key)
            .values(claim=claim, leased_until=now + LEASE)
        )
        return None


def _release(uow, table, account_id, key, claim) -> None:
    """The request failed without a change: the key is free for the same request again."""
    try:
        with uow.begin() as session:
            session.execute(
                delete(table).where(
                    table.c.account_id == account_id,
                    table.c.key == key,
                    table.c.claim == claim,
                    table.c.status == "in_flight",
                )
            )
    except Exception:  # the lease runs out by itself
        log.exception("releasing idempotency key failed")


def _rowcount(result) -> int:
    """How many rows an UPDATE or DELETE touched (a CursorResult's; typed loosely by SQLAlchemy)."""
    return result.rowcount


def fingerprint_of(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests the same request: method, path, query and body, byte for byte."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query):
        digest.update(part + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _fingerprint() -> str:
    return fingerprint_of(
        request.method, request.path, request.query_string, request.get_data(cache=True)
    )


def _invalid_key(key: str) -> str | None:
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        return f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters, e.g. a UUID"
    return None


def _in_flight():
    response = _answer(
        409, "request_in_flight", f"a request with this {HEADER} is still being worked on"
    )
    response.headers["Retry-After"] = "1"
    return response


def _answer(status: int, error: str, message: str):
    response = current_app.response_class(
        json.dumps({"error": error, "message": message}), status=status, mimetype="application/json"
    )
    return response
