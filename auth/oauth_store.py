"""What the OAuth provider keeps in the auth database: clients, authorization codes, refresh tokens
and revoked access tokens, with the objects authlib asks for.

Codes and refresh tokens are stored as SHA-256 hashes and claimed with one conditional UPDATE, so
two requests racing with the same code or refresh token cannot both win. Presenting a used code
or an already rotated refresh token again revokes every refresh token of its family (RFC 6749
§4.1.2, RFC 9700 §4.14): a leaked one is worth nothing.

Resource services verify access tokens offline, so every revocation of a live access token (by
itself, or with its refresh token's family) is also written to the outbox as `token.revoked`, in
the revoking transaction: that event is how they learn to refuse its jti before it expires.
"""

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import delete, insert, select, update

from ates import clock
from ates.bus import Event, Outbox
from ates.unit_of_work import UnitOfWork
from auth.models import (
    accounts,
    authorization_codes,
    oauth_clients,
    outbox,
    refresh_tokens,
    revoked_access_tokens,
)
from auth.settings import DEFAULT_SCOPE, SCOPES, ClientConfig

GRANT_TYPES = ("authorization_code", "refresh_token")
_outbox = Outbox(outbox)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Client(ClientMixin):
    client_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    @property
    def client_metadata(self) -> dict:
        return {}

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # every request names its redirect URI

    def get_allowed_scope(self, scope):
        if not scope:
            return DEFAULT_SCOPE
        return " ".join(name for name in scope.split() if name in SCOPES and name in self.scopes)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact comparison, no prefixes or patterns

    def check_client_secret(self, client_secret):
        return not self.is_public and hmac.compare_digest(self.secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in GRANT_TYPES


def save_clients(uow: UnitOfWork, configs: tuple[ClientConfig, ...]) -> None:
    """Make the clients table say what the configuration says; unchanged rows are left alone."""
    with uow.begin() as session:
        for config in configs:
            values = {
                "name": config.name,
                "secret_hash": digest(config.secret) if config.secret else None,
                "redirect_uris": "\n".join(config.redirect_uris),
                "scopes": " ".join(config.scopes),
            }
            row = session.execute(
                select(oauth_clients).where(oauth_clients.c.client_id == config.client_id)
            ).first()
            if row is None:
                session.execute(
                    insert(oauth_clients).values(
                        client_id=config.client_id, updated_at=clock.utcnow(), **values
                    )
                )
            elif any(row._mapping[name] != value for name, value in values.items()):
                session.execute(
                    update(oauth_clients)
                    .where(oauth_clients.c.client_id == config.client_id)
                    .values(updated_at=clock.utcnow(), **values)
                )


def find_client(uow: UnitOfWork, client_id: str) -> Client | None:
    if not client_id:
        return None
    with uow.read() as session:
        row = session.execute(
            select(oauth_clients).where(oauth_clients.c.client_id == client_id)
        ).first()
    if row is None:
        return None
    return Client(
        row.client_id,
        row.name,
        row.secret_hash,
        tuple(row.redirect_uris.splitlines()),
        tuple(row.scopes.split()),
    )


@dataclass(frozen=True)
class AuthorizationCode(AuthorizationCodeMixin):
    family_id: str
    client_id: str
    account_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: int

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


KEPT_AFTER_EXPIRY = timedelta(days=1)  # long enough to recognise a replayed code or refresh token


def save_code(uow: UnitOfWork, code: str, grant: AuthorizationCode, ttl: int) -> None:
    now = clock.utcnow()
    with uow.begin() as session:
        session.execute(
            delete(authorization_codes).where(
                authorization_codes.c.expires_at < now - KEPT_AFTER_EXPIRY
            )
        )
        session.execute(
            insert(authorization_codes).values(
                code_hash=digest(code), expires_at=now + timedelta(seconds=ttl), **vars(grant)
            )
        )


def claim_code(uow: UnitOfWork, code: str, client_id: str) -> AuthorizationCode | None:
    """The code's grant, once: a second use (or an expired code) gets None and ends its tokens."""
    now = clock.utcnow()
    code_hash = digest(code)
    with uow.begin() as session:
        claimed = session.execute(
            update(authorization_codes)
            .where(
                authorization_codes.c.code_hash == code_hash,
                authorization_codes.c.client_id == client_id,
                authorization_codes.c.used_at.is_(None),
                authorization_codes.c.expires_at > now,
            )
            .values(used_at=now)
        )
        row = session.execute(
            select(authorization_codes).where(
                authorization_codes.c.code_hash == code_hash,
                authorization_codes.c.client_id == client_id,
            )
        ).first()
        if row is None:
            return None
        if claimed.rowcount != 1:
            if row.used_at is not None:
                _revoke_family(session, row.family_id, now)
            return None
    fields = AuthorizationCode.__dataclass_fields__
    return AuthorizationCode(**{name: row._mapping[name] for name in fields})


def nonce_used(uow: UnitOfWork, client_id: str, nonce: str) -> bool:
    with uow.read() as session:
        return (
            session.scalar(
                select(authorization_codes.c.code_hash)
                .where(
                    authorization_codes.c.client_id == client_id,
                    authorization_codes.c.nonce == nonce,
                )
                .limit(1)
            )
            is not None
        )


@dataclass(frozen=True)
class RefreshToken:
    family_id: str
    client_id: str
    account_id: str
    scope: str
    family_expires_at: datetime  # fixed at the sign-in; no rotation moves it

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope


@dataclass(frozen=True)
class IssuedAccessToken:
    jti: str
    expires_at: datetime


def family_deadline(lifetime: int) -> datetime:
    """When a family that starts now ends, whatever its rotations."""
    return clock.utcnow() + timedelta(seconds=lifetime)


def save_refresh_token(
    uow: UnitOfWork,
    token: str,
    grant: RefreshToken,
    ttl: int,
    access: IssuedAccessToken | None = None,
) -> None:
    """Live for `ttl`, but never past the family's deadline, which the live check then enforces alone.
    `access`: the access token of the same answer, announced as revoked if this family is."""
    now = clock.utcnow()
    expires_at = min(now + timedelta(seconds=ttl), grant.family_expires_at)
    with uow.begin() as session:
        session.execute(
            delete(refresh_tokens).where(refresh_tokens.c.expires_at < now - KEPT_AFTER_EXPIRY)
        )
        session.execute(
            insert(refresh_tokens).values(
                token_hash=digest(token),
                issued_at=now,
                expires_at=expires_at,
                access_jti=access.jti if access else None,
                access_expires_at=access.expires_at if access else None,
                **vars(grant),
            )
        )


def rotate_refresh_token(uow: UnitOfWork, token: str, client_id: str) -> RefreshToken | None:
    """The token's grant if it is live, its client's and its account still active; it is used up.

    A token presented after it was rotated means two parties hold it: its whole family is revoked.
    """
    now = clock.utcnow()
    token_hash = digest(token)
    with uow.begin() as session:
        active_account = select(accounts.c.account_id).where(
            accounts.c.account_id == refresh_tokens.c.account_id, accounts.c.active
        )
        claimed = session.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.token_hash == token_hash,
                refresh_tokens.c.client_id == client_id,
                refresh_tokens.c.rotated_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
                refresh_tokens.c.expires_at > now,
                active_account.exists(),
            )
            .values(rotated_at=now)
        )
        row = session.execute(
            select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        ).first()
        if row is None or row.client_id != client_id:
            return None
        if claimed.rowcount != 1:
            if row.rotated_at is not None and row.revoked_at is None:
                _revoke_family(session, row.family_id, now)
            return None
    return _refresh_token(row)


def _refresh_token(row) -> RefreshToken:
    # SQLite hands back naive datetimes; every time auth stores is UTC.
    deadline = row.family_expires_at
    deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
    return RefreshToken(row.family_id, row.client_id, row.account_id, row.scope, deadline)


def find_refresh_token(uow: UnitOfWork, token: str) -> RefreshToken | None:
    with uow.read() as session:
        row = session.execute(
            select(refresh_tokens).where(refresh_tokens.c.token_hash == digest(token))
        ).first()
    return _refresh_token(row) if row else None


def revoke_family(uow: UnitOfWork, family_id: str) -> None:
    with uow.begin() as session:
        _revoke_family(session, family_id, clock.utcnow())


def _revoke_family(session, family_id: str, now: datetime) -> None:
    live_access_tokens = session.execute(
        select(
            refresh_tokens.c.access_jti,
            refresh_tokens.c.account_id,
            refresh_tokens.c.access_expires_at,
        ).where(
            refresh_tokens.c.family_id == family_id,
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.access_jti.is_not(None),
            refresh_tokens.c.access_expires_at > now,
        )
    ).all()
    session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    for jti, account_id, expires_at in live_access_tokens:
        _revoke_access_token(session, jti, account_id, _utc(expires_at))


def revoke_access_token(uow: UnitOfWork, jti: str, account_id: str, expires_at: datetime) -> None:
    with uow.begin() as session:
        _revoke_access_token(session, jti, account_id, expires_at)


def _revoke_access_token(session, jti: str, account_id: str, expires_at: datetime) -> None:
    """Refused by auth from now on, and announced once to the services that verify it offline."""
    session.execute(
        delete(revoked_access_tokens).where(revoked_access_tokens.c.expires_at < clock.utcnow())
    )
    if (
        session.scalar(
            select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
        )
        is None
    ):
        session.execute(insert(revoked_access_tokens).values(jti=jti, expires_at=expires_at))
        _outbox.add(
            session,
            Event(
                "token.revoked",
                1,
                "/auth",
                {"jti": jti, "account_id": account_id, "expires_at": clock.to_wire(expires_at)},
            ),
        )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives naive times back


def access_token_revoked(uow: UnitOfWork, jti: str) -> bool:
    with uow.read() as session:
        return (
            session.scalar(
                select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
            )
            is not None
        )


def new_family_id() -> str:
    return str(uuid.uuid4())
