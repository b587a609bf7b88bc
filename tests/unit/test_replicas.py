"""The version guard of an account replica (ates/replicas.py), on an in-memory database."""

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session

from ates.bus import NotYet
from ates.replicas import AccountReplica

metadata = MetaData()
accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String, primary_key=True),
    Column("role", String),
    Column("active", Boolean),
    Column("version", Integer),
)
POPUG = "0b7c6d1e-0000-4000-8000-000000000001"


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        yield session


replica = AccountReplica(accounts, lambda data: {"role": data["role"], "active": data["active"]})


def snapshot(version: int, role: str = "developer", active: bool = True) -> dict:
    return {"account_id": POPUG, "role": role, "active": active, "version": version}


def row(session) -> tuple:
    return tuple(
        session.execute(select(accounts.c.role, accounts.c.active, accounts.c.version)).one()
    )


def test_a_snapshot_inserts_then_a_newer_or_equal_one_replaces_and_an_older_one_is_ignored(session):
    replica.apply_snapshot(session, snapshot(2, "developer"))
    assert row(session) == ("developer", True, 2)
    replica.apply_snapshot(session, snapshot(1, "admin"))
    assert row(session) == ("developer", True, 2)
    replica.apply_snapshot(session, snapshot(2, "manager"))  # the same version again applies
    assert row(session) == ("manager", True, 2)
    replica.apply_snapshot(session, snapshot(3, "accountant", active=False))
    assert row(session) == ("accountant", False, 3)


def test_a_change_applies_when_not_older_and_sees_the_row_as_it_is(session):
    replica.apply_snapshot(session, snapshot(2, "developer"))
    replica.apply_change(
        session, {"account_id": POPUG, "version": 1}, lambda account: {"role": "admin"}
    )
    assert row(session) == ("developer", True, 2)
    seen = []
    replica.apply_change(
        session,
        {"account_id": POPUG, "version": 3},
        lambda account: seen.append(dict(account)) or {"active": False},
    )
    assert row(session) == ("developer", False, 3) and seen[0]["role"] == "developer"


def test_a_change_to_an_unknown_account_waits_for_its_snapshot(session):
    with pytest.raises(NotYet, match="not known yet"):
        replica.apply_change(
            session, {"account_id": POPUG, "version": 5}, lambda account: {"active": False}
        )
    assert replica.version_of(session, POPUG) is None
