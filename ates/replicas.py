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

from ates.bus.handlers import Handlers, NotYet

Row = dict[str, object]


class AccountReplica:
    def __init__(
        self,
        table: Table,
        snapshot_row: Callable[[Mapping], Row] | None = None,
        role_changed: Callable[[Mapping, str], Row] = lambda account, role: {"role": role},
        deactivated: Callable[[Mapping], Row] = lambda account: {"active": False},
    ):
        """`snapshot_row(data)`: the columns an account.created/updated snapshot sets (without
        account_id and version), from the event's data; by default every column of the table the
        event carries under the same name. `role_changed(account, role)` and
        `deactivated(account)`: the columns those changes set, from the row as it is."""
        self.table = table
        self.snapshot_row = snapshot_row or self.same_named_columns
        self.role_changed = role_changed
        self.deactivated = deactivated

    def same_named_columns(self, data: Mapping) -> Row:
        kept = set(self.table.c.keys()) - {"account_id", "version"}
        return {name: value for name, value in data.items() if name in kept}

    def register(self, handlers: Handlers) -> None:
        """The consumer keeps this replica from auth's account events, v1 of each."""
        handlers.on("account.created", 1)(self.on_account_snapshot)
        handlers.on("account.updated", 1)(self.on_account_snapshot)
        handlers.on("account.role_changed", 1)(self.on_account_role_changed)
        handlers.on("account.deactivated", 1)(self.on_account_deactivated)

    def on_account_snapshot(self, session: Session, event) -> None:
        self.apply_snapshot(session, event.data)

    def on_account_role_changed(self, session: Session, event) -> None:
        role = event.data["role"]
        self.apply_change(session, event.data, lambda account: self.role_changed(account, role))

    def on_account_deactivated(self, session: Session, event) -> None:
        self.apply_change(session, event.data, self.deactivated)

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
