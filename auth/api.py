"""Auth's REST API (SPEC §8), admins only, with a Bearer access token: list, create, change and
deactivate accounts. An account is `{account_id, username, email, full_name, role, active}`.

Bad input is a 400 `{"error", "message", "fields"}`; a taken username 409; an unknown id 404.
"""

from flask import Blueprint, g, jsonify
from marshmallow import Schema, ValidationError, fields, validate

from ates import json_body
from ates.web import unit_of_work
from auth import service
from auth.bearer import require_token
from auth.domain import (
    MAX_FULL_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROLES,
    AccountChange,
)
from auth.service import AccountNotFound

bp = Blueprint("api", __name__, url_prefix="/api")


class AccountSchema(Schema):
    account_id = fields.String()
    username = fields.String()
    email = fields.String()
    full_name = fields.String()
    role = fields.String()
    active = fields.Boolean()


class AccountListSchema(Schema):
    accounts = fields.List(fields.Nested(AccountSchema), required=True)


class NewAccountSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(3, 64))
    password = fields.String(
        required=True, validate=validate.Length(MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH)
    )
    email = fields.String(required=True, validate=validate.Length(3, 254))
    full_name = fields.String(load_default="", validate=validate.Length(max=MAX_FULL_NAME_LENGTH))
    role = fields.String(load_default="developer", validate=validate.OneOf(ROLES))


class AccountChangeSchema(Schema):
    email = fields.String(validate=validate.Length(3, 254))
    full_name = fields.String(validate=validate.Length(max=MAX_FULL_NAME_LENGTH))
    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean(truthy={True}, falsy={False})  # JSON true or false, not "yes"


_account = AccountSchema()
_new_account = NewAccountSchema()
_change = AccountChangeSchema()


def _problem(status: int, error: str, message: str, **extra):
    response = jsonify(error=error, message=message, **extra)
    response.status_code = status
    return response


def _json_body(schema: Schema) -> dict:
    return schema.load(json_body.json_object("_body"))


def _invalid(error: ValidationError):
    fields = error.normalized_messages()
    said = "; ".join(
        f"{name}: {' '.join(map(str, why)) if isinstance(why, list) else why}"
        for name, why in fields.items()
    )
    return _problem(
        400, "invalid_request", f"The request has invalid fields ({said}).", fields=fields
    )


@bp.get("/accounts")
@require_token("admin")
def list_accounts():
    """Every account.
    ---
    get:
      responses:
        200:
          description: the accounts
          content:
            application/json:
              schema: AccountListSchema
    """
    return {"accounts": _account.dump(service.list_accounts(unit_of_work()), many=True)}


@bp.get("/accounts/<account_id>")
@require_token("admin")
def get_account(account_id):
    """One account.
    ---
    get:
      responses:
        200:
          description: the account
          content:
            application/json:
              schema: AccountSchema
        404:
          description: no such account
    """
    account = service.get_account(unit_of_work(), account_id)
    if account is None:
        return _problem(404, "not_found", "There is no such account.")
    return _account.dump(account)


@bp.post("/accounts")
@require_token("admin")
def create_account():
    """Create an account; `account.created` goes out.
    ---
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: NewAccountSchema
      responses:
        201:
          description: the new account
          content:
            application/json:
              schema: AccountSchema
        409:
          description: the username is taken
    """
    try:
        account = service.create_account(unit_of_work(), **_json_body(_new_account))
    except ValidationError as error:
        return _invalid(error)
    return _account.dump(
        account
    ), 201  # a RuleBroken (UsernameTaken: 409) is answered by ates/rules.py


@bp.patch("/accounts/<account_id>")
@require_token("admin")
def change_account(account_id):
    """Change an account's email, full name, role or active flag; the matching events go out.
    ---
    patch:
      requestBody:
        required: true
        content:
          application/json:
            schema: AccountChangeSchema
      responses:
        200:
          description: the account as changed
          content:
            application/json:
              schema: AccountSchema
        404:
          description: no such account
    """
    try:
        change = AccountChange(**_json_body(_change))
    except ValidationError as error:
        return _invalid(error)
    return _apply(account_id, change)


@bp.delete("/accounts/<account_id>")
@require_token("admin")
def deactivate_account(account_id):
    """Deactivate an account: it can no longer sign in and is never assigned again.
    ---
    delete:
      responses:
        200:
          description: the account, inactive
          content:
            application/json:
              schema: AccountSchema
        404:
          description: no such account
    """
    return _apply(account_id, AccountChange(active=False))


def _apply(account_id: str, change: AccountChange):
    try:
        account = service.change_account(unit_of_work(), account_id, change, g.principal.account_id)
    except AccountNotFound:
        return _problem(404, "not_found", "There is no such account.")
    return _account.dump(account)
