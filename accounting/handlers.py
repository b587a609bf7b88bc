"""What accounting does with other services' events: the task events move money, the account
events keep the replica the accounts list needs (ates/replicas.py)."""

from accounting import domain, service
from accounting.models import accounts, revoked_tokens
from ates import clock, revocations
from ates.bus import Handlers
from ates.config import Settings
from ates.replicas import AccountReplica
from ates.task_titles import split_v1_title

handlers = Handlers("accounting")
replica = AccountReplica(accounts)  # name, email, role, active: as the events say
replica.register(handlers)  # account.created, .updated, .role_changed, .deactivated


@handlers.on("task.created", 1)
def on_task_created_v1(session, event):
    data = event.data
    title, jira_id = split_v1_title(data["title"])
    service.learn_task_details(
        session, data["task_id"], jira_id, title, data["description"], version=1
    )


@handlers.on("task.created", 2)
@handlers.on("task.updated", 2)
def on_task_snapshot(session, event):
    data = event.data
    service.learn_task_details(
        session,
        data["task_id"],
        data["jira_id"],
        data["title"],
        data["description"],
        version=data["version"],
    )


@handlers.on("task.assigned", 1)
def on_task_assigned(session, event, settings: Settings, now):
    data = event.data
    service.charge_assign_fee(
        session,
        data["task_id"],
        data["assignee_id"],
        data["previous_assignee_id"],
        clock.from_wire(data["assigned_at"]),
        _today(settings, now),
    )


@handlers.on("task.completed", 1)
def on_task_completed(session, event, settings: Settings, now):
    service.pay_completion_reward(
        session, event.data["task_id"], event.data["assignee_id"], _today(settings, now)
    )


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    revocations.remember(session, revoked_tokens, event.data)


def _today(settings: Settings, now):
    """The local date, asked for only to open the very first billing day."""
    return lambda: domain.local_date(now(), settings.timezone)
