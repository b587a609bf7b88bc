"""The auth database's tables: accounts and their beak prints, login failures, OAuth clients,
codes and refresh tokens, signing keys, and the outbox of account and token revocation events.

Secrets are stored only as hashes (passwords: scrypt; codes, refresh tokens and client secrets:
SHA-256, since they are long random strings). Times are UTC.
"""

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from ates.bus import outbox_table
from ates.db import new_metadata
from ates.idempotency import idempotency_keys_table

metadata = new_metadata()
outbox = outbox_table(metadata)
idempotency_keys = idempotency_keys_table(
    metadata
)  # answers to writes sent again (ates/idempotency.py)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

beak_prints = Table(
    "beak_prints",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id"), primary_key=True),
    Column("print_hash", String(32), nullable=False),  # 128-bit perceptual hash, hex
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "client_key", String(400), nullable=False
    ),  # a counter of domain.LoginLimits, e.g. "client 203.0.113.7"
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failures_client_key_failed_at", "client_key", "failed_at"),
    Index("ix_login_failures_failed_at", "failed_at"),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=True),  # None: a public client
    Column("redirect_uris", Text, nullable=False),  # one a line, compared exactly
    Column("scopes", Text, nullable=False),  # what it may be granted, space-separated
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("family_id", String(36), nullable=False),  # the tokens this code leads to
    Column("client_id", String(64), ForeignKey("oauth_clients.client_id"), nullable=False),
    Column("account_id", String(36), ForeignKey("accounts.account_id"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("nonce", String(255), nullable=True),
    Column("code_challenge", String(128), nullable=False),
    Column("code_challenge_method", String(10), nullable=False),
    Column("auth_time", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_authorization_codes_client_id_nonce", "client_id", "nonce"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", String(36), nullable=False, index=True),
    Column("client_id", String(64), ForeignKey("oauth_clients.client_id"), nullable=False),
    Column("account_id", String(36), ForeignKey("accounts.account_id"), nullable=False, index=True),
    Column("scope", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column(
        "expires_at", DateTime(timezone=True), nullable=False, index=True
    ),  # never after family_expires_at
    Column(
        "family_expires_at", DateTime(timezone=True), nullable=False
    ),  # the sign-in's absolute end
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # The access token issued in the same answer: revoking the family announces it (token.revoked),
    # since resource services verify offline and would otherwise accept it until it expires.
    Column("access_jti", String(64), nullable=True),
    Column("access_expires_at", DateTime(timezone=True), nullable=True),
)

revoked_access_tokens = Table(
    "revoked_access_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False),  # the newest active key signs
    Column("retired_at", DateTime(timezone=True), nullable=True),  # no longer published
)
