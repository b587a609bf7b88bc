"""What the tracker does with other services' events: it keeps its replica of the accounts."""

from ates import revocations
from ates.bus import Handlers
from ates.replicas import AccountReplica
from tracker import domain
from tracker.models import accounts, revoked_tokens

handlers = Handlers("tracker")
replica = AccountReplica(
    accounts,
    lambda data: {
        "username": data["username"],
        "role": data["role"],
        "active": data["active"],
        "assignable": domain.is_assignable(data["role"], data["active"]),
    },
)


@handlers.on("account.created", 1)
@handlers.on("account.updated", 1)
def on_account_snapshot(session, event):
    replica.apply_snapshot(session, event.data)


@handlers.on("account.role_changed", 1)
def on_account_role_changed(session, event):
    role = event.data["role"]
    replica.apply_change(
        session,
        event.data,
        lambda account: {"role": role, "assignable": domain.is_assignable(role, account["active"])},
    )


@handlers.on("account.deactivated", 1)
def on_account_deactivated(session, event):
    replica.apply_change(
        session, event.data, lambda account: {"active": False, "assignable": False}
    )


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    revocations.remember(session, revoked_tokens, event.data)
