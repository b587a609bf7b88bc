"""A service's replica of auth's accounts, kept by version: tracker and accounting keep one each.

Auth numbers every change of an account (`version`), and every account event carries the number.
Events may arrive in any order and more than once, so a replica applies an event only when its
version is at least the one it holds: an older snapshot never overwrites a newer one, the same
one twice changes nothing. A change (role, deactivation) to an account the replica has not met
yet waits for its snapshot: `NotYet` sends it round the retry path.
"""

from collections.abc import Callable, Mapping

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from ates.bus.handlers import NotYet

Row = dict[str, object]


class AccountReplica:
    def __init__(self, table: Table, snapshot_row: Callable[[Mapping], Row]):
        """`snapshot_row(data)`: the columns an account.created/updated snapshot sets (without
        account_id and version), from the event's data."""
        self.table = table
        self.snapshot_row = snapshot_row

    def apply_snapshot(self, session: Session, data: Mapping) -> None:
        """account.created / account.updated: the whole account, inserted or, if not older, replacing."""
        row = self.snapshot_row(data) | {"version": data["version"]}
        known = self.version_of(session, data["account_id"])
        if known is None:
            session.execute(insert(self.table).values(account_id=data["account_id"], **row))
        elif data["version"] >= known:
            session.execute(self._update(data["account_id"]).values(**row))

    def apply_change(
        self, session: Session, data: Mapping, change: Callable[[Mapping], Row]
    ) -> None:
        """A change to one known account: `change(account)` gives the columns it sets, from the row
        as it is."""
        account = self.known(session, data["account_id"])
        if data["version"] >= account["version"]:
            session.execute(
                self._update(data["account_id"]).values(**change(account), version=data["version"])
            )

    def version_of(self, session: Session, account_id: str) -> int | None:
        return session.scalar(
            select(self.table.c.version).where(self.table.c.account_id == account_id)
        )

    def known(self, session: Session, account_id: str) -> Mapping:
        """The account's row; NotYet while its snapshot has not arrived."""
        account = (
            session.execute(select(self.table).where(self.table.c.account_id == account_id))
            .mappings()
            .first()
        )
        if account is None:
            raise NotYet(f"account {account_id} is not known yet")
        return account

    def _update(self, account_id: str):
        return update(self.table).where(self.table.c.account_id == account_id)
