"""What the tracker does with other services' events: it keeps its replica of the accounts."""
from sqlalchemy import insert, select, update

from ates import revocations
from ates.bus import Handlers, NotYet
from tracker import domain
from tracker.models import accounts, revoked_tokens

handlers = Handlers("tracker")


@handlers.on("account.created", 1)
@handlers.on("account.updated", 1)
def on_account_snapshot(session, event):
    data = event.data
    row = {"username": data["username"], "role": data["role"], "active": data["active"],
           "assignable": domain.is_assignable(data["role"], data["active"]), "version": data["version"]}
    known = _known_version(session, data["account_id"])
    if known is None:
        session.execute(insert(accounts).values(account_id=data["account_id"], **row))
    elif data["version"] >= known:  # an older snapshot never overwrites a newer one
        session.execute(update(accounts).where(accounts.c.account_id == data["account_id"]).values(**row))


@handlers.on("account.role_changed", 1)
def on_account_role_changed(session, event):
    account = _account_or_not_yet(session, event.data["account_id"])
    if event.data["version"] >= account["version"]:
        session.execute(update(accounts).where(accounts.c.account_id == account["account_id"]).values(
            role=event.data["role"], version=event.data["version"],
            assignable=domain.is_assignable(event.data["role"], account["active"])))


@handlers.on("account.deactivated", 1)
def on_account_deactivated(session, event):
    account = _account_or_not_yet(session, event.data["account_id"])
    if event.data["version"] >= account["version"]:
        session.execute(update(accounts).where(accounts.c.account_id == account["account_id"]).values(
            active=False, assignable=False, version=event.data["version"]))


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    revocations.remember(session, revoked_tokens, event.data)


def _known_version(session, account_id):
    return session.scalar(select(accounts.c.version).where(accounts.c.account_id == account_id))


def _account_or_not_yet(session, account_id):
    account = session.execute(select(accounts).where(accounts.c.account_id == account_id)).mappings().first()
    if account is None:
        raise NotYet(f"account {account_id} is not known yet")
    return dict(account)
