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
        "full_name": data.get("full_name"),
        "role": data["role"],
        "active": data["active"],
        "assignable": domain.is_assignable(data["role"], data["active"]),
    },
    role_changed=lambda account, role: {
        "role": role,
        "assignable": domain.is_assignable(role, account["active"]),
    },
    deactivated=lambda account: {"active": False, "assignable": False},
)
replica.register(handlers)  # account.created, .updated, .role_changed, .deactivated


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    revocations.remember(session, revoked_tokens, event.data)
