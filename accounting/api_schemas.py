"""The shapes of accounting's REST answers and queries, for its OpenAPI document at /openapi.json.
The views build their JSON themselves; these describe it (and the query parameters) to clients."""

from marshmallow import Schema, fields, validate

from accounting import domain
from ates.roles import ROLES

MONEY = {"pattern": r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$", "example": "12.00"}


class MyAccount(Schema):
    account_id = fields.UUID(required=True)
    balance = fields.String(required=True, metadata=MONEY)


class TaskOfTransaction(Schema):
    task_id = fields.UUID(required=True)
    jira_id = fields.String(required=True, allow_none=True, metadata={"example": "UBERPOP-42"})
    title = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null until the task's details arrive: an unknown task"},
    )
    description = fields.String(required=True, allow_none=True)


class Transaction(Schema):
    transaction_id = fields.UUID(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(["assign_fee", "completion_reward", "payout"])
    )
    amount = fields.String(required=True, metadata=MONEY)
    balance_after = fields.String(required=True, metadata=MONEY)
    billing_date = fields.Date(required=True)
    applied_at = fields.DateTime(required=True)
    task = fields.Nested(
        TaskOfTransaction,
        required=True,
        allow_none=True,
        metadata={"description": "null for a payout"},
    )


class AuditLog(Schema):
    date = fields.Date(required=True)
    account_id = fields.UUID(required=True)
    transactions = fields.List(fields.Nested(Transaction), required=True)


class AccountWithBalance(Schema):
    account_id = fields.UUID(required=True)
    username = fields.String(
        required=True, allow_none=True, metadata={"description": "null until auth's event arrives"}
    )
    full_name = fields.String(required=True, allow_none=True)
    role = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True, allow_none=True)
    balance = fields.String(required=True, metadata=MONEY)


class AccountList(Schema):
    accounts = fields.List(fields.Nested(AccountWithBalance), required=True)
    next = fields.UUID(
        required=True,
        allow_none=True,
        metadata={"description": "pass as `after` for the next page; null on the last"},
    )


class AccountQuery(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    balance = fields.String(
        validate=validate.OneOf(["negative", "zero", "positive"]),
        metadata={"description": "only the accounts whose balance has this sign"},
    )
    limit = fields.Integer(
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "a page of this many; every account when left out"},
    )
    after = fields.UUID(metadata={"description": "the page after this account (a page's `next`)"})


class TaskPrices(Schema):
    task_id = fields.UUID(required=True)
    jira_id = fields.String(required=True, allow_none=True)
    title = fields.String(required=True, allow_none=True)
    assign_fee = fields.String(required=True, metadata=MONEY)
    completion_reward = fields.String(required=True, metadata=MONEY)
    rewarded = fields.Boolean(required=True)
    priced_at = fields.DateTime(required=True)


class IncomeOfDay(Schema):
    date = fields.Date(required=True)
    management_income = fields.String(required=True, metadata=MONEY)


class Income(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    days = fields.List(fields.Nested(IncomeOfDay), required=True)


class BillingDay(Schema):
    billing_date = fields.Date(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf([domain.OPEN, domain.CLOSING, domain.CLOSED])
    )
    payouts = fields.Integer(required=True)
    total_paid = fields.String(required=True, metadata=MONEY)
    management_income = fields.String(required=True, metadata=MONEY)


class DayQuery(Schema):
    date = fields.Date(metadata={"description": "the billing day; the open one when left out"})


class IncomeQuery(Schema):
    from_ = fields.Date(
        data_key="from", metadata={"description": "first day; 30 days before `to` when left out"}
    )
    to = fields.Date(
        metadata={
            "description": "last day, at most 366 days after `from`; the open day when left out"
        }
    )


SCHEMAS = (MyAccount, Transaction, AuditLog, AccountList, Income, BillingDay, TaskPrices)
