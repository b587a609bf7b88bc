"""What the notifier does with other services' events: it learns who is who (auth), what each task
is called (tracker) and costs (accounting), and tells popugs what happened to them (service.py)."""

from ates import money, revocations
from ates.bus import Handlers
from ates.replicas import AccountReplica
from ates.task_titles import split_v1_title
from notifier import service
from notifier.models import accounts, revoked_tokens

handlers = Handlers("notifier")
replica = AccountReplica(accounts)  # name, email, role, active: as the events say
replica.register(handlers)  # account.created, .updated, .role_changed, .deactivated


@handlers.on("task.created", 1)
def on_task_created_v1(session, event):
    title, jira_id = split_v1_title(event.data["title"])
    service.learn_task_details(session, event.data["task_id"], jira_id, title, version=1)


@handlers.on("task.created", 2)
@handlers.on("task.updated", 2)
def on_task_snapshot(session, event):
    data = event.data
    service.learn_task_details(
        session, data["task_id"], data["jira_id"], data["title"], version=data["version"]
    )


@handlers.on("task.priced", 1)
def on_task_priced(session, event):
    data = event.data
    service.learn_price(
        session,
        data["task_id"],
        money.from_wire(data["assign_fee"]),
        money.from_wire(data["completion_reward"]),
    )


@handlers.on("task.assigned", 1)
def on_task_assigned(session, event, now):
    service.task_assigned(session, event.data, now())


@handlers.on("task.completed", 1)
def on_task_completed(session, event, now):
    service.task_completed(session, event.data, now())


@handlers.on("transaction.applied", 1)
def on_transaction_applied(session, event):
    service.transaction_applied(session, event.data)


@handlers.on("payout.sent", 1)
def on_payout_sent(session, event):
    service.payout_sent(session, event.data)


@handlers.on("billing_day.closed", 1)
def on_billing_day_closed(session, event, now):
    service.billing_day_closed(session, event.data, now())


@handlers.on("token.revoked", 1)
def on_token_revoked(session, event):
    revocations.remember(session, revoked_tokens, event.data)
