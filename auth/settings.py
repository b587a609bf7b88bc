"""What auth reads from the environment beyond the shared settings: issuer, secrets, clients, lifetimes.

Development has defaults for everything but the session key (made once into the var dir,
ates.session_keys); production (`ATES_ENV=production`) refuses to start on any of them
(ates.production, fed by `production_values`). The client table is docs/sso-contract.md's.
"""

import os
from dataclasses import dataclass

from ates.config import service_url
from auth import passwords
from auth.domain import FailureWindow, LoginLimits

DEV_ADMIN_PASSWORD = "admin"
DEV_GATEWAY_CLIENT_SECRET = "dev-gateway-secret"
CLI_REDIRECT_URI = "http://127.0.0.1:8976/callback"
OFFLINE_ACCESS = "offline_access"  # asks for a refresh token (OIDC core §11)
API_SCOPE = "ates-api"  # calling the services' APIs, auth's own included (docs/sso-contract.md)
SCOPES = ("openid", "profile", "email", OFFLINE_ACCESS, API_SCOPE)
DEFAULT_SCOPE = "openid"  # what a client that names no scope gets: no refresh token, no API access
ACCESS_TOKEN_AUDIENCE = "ates-api"
SECRETS = ("ATES_AUTH_SECRET_KEY", "ATES_ADMIN_PASSWORD", "ATES_GATEWAY_CLIENT_SECRET")


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    name: str
    secret: str | None  # None: a public client, authenticated by PKCE alone
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...] = SCOPES  # what it may be granted; it asks for what it needs


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    secret_key: str | None  # None: not set; development then keeps one in the var dir
    admin_password: str
    gateway_client_secret: str
    gateway_url: str
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_family_lifetime: int
    authorization_code_ttl: int
    login_limits: LoginLimits
    explicit: frozenset  # the variables that were really set, not defaulted

    @property
    def clients(self) -> tuple[ClientConfig, ...]:
        return (
            ClientConfig(
                "ates-gateway",
                "aTES web",
                self.gateway_client_secret,
                (f"{self.gateway_url}/auth/callback",),
            ),
            ClientConfig("ates-cli", "aTES command line", None, (CLI_REDIRECT_URI,)),
        )

    def production_values(self) -> dict:
        """What ates.production checks: the public URLs, and each secret only if it was really set."""
        given = {"ATES_AUTH_ISSUER": self.issuer, "ATES_GATEWAY_URL": self.gateway_url}
        for variable, value in zip(
            SECRETS, (self.secret_key, self.admin_password, self.gateway_client_secret), strict=True
        ):
            given[variable] = value if variable in self.explicit else None
        return given

    def admin_password_problems(self) -> list[str]:
        """What production refuses in the admin's password beyond its length (ates.production): a
        person types it, so it is held to the rules of every password."""
        if "ATES_ADMIN_PASSWORD" not in self.explicit:
            return []
        return _admin_password_problems(self.admin_password)


def _admin_password_problems(password: str) -> list[str]:
    # A person types this one, so it is held to the rules of every password; its length is checked by
    # ates.production with the other settings.
    if passwords.weakness(password, "admin"):
        return ["ATES_ADMIN_PASSWORD is a common password"]
    return []


def load_auth_settings(env=None) -> AuthSettings:
    env = os.environ if env is None else env
    explicit = frozenset(name for name in SECRETS if env.get(name))
    return AuthSettings(
        issuer=(env.get("ATES_AUTH_ISSUER") or service_url("auth", env)).rstrip("/"),
        secret_key=env.get("ATES_AUTH_SECRET_KEY") or None,
        admin_password=env.get("ATES_ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD,
        gateway_client_secret=env.get("ATES_GATEWAY_CLIENT_SECRET") or DEV_GATEWAY_CLIENT_SECRET,
        gateway_url=service_url("gateway", env).rstrip("/"),
        access_token_ttl=_seconds(env, "ATES_ACCESS_TOKEN_TTL", 900),
        refresh_token_ttl=_seconds(env, "ATES_REFRESH_TOKEN_TTL", 14 * 24 * 3600),
        refresh_family_lifetime=_seconds(env, "ATES_REFRESH_FAMILY_LIFETIME", 30 * 24 * 3600),
        authorization_code_ttl=_seconds(env, "ATES_AUTHORIZATION_CODE_TTL", 300),
        login_limits=LoginLimits(
            per_client=FailureWindow(_seconds(env, "ATES_LOGIN_FAILURES_PER_IP", 8)),
            per_username=FailureWindow(_seconds(env, "ATES_LOGIN_FAILURES_PER_USERNAME", 10)),
        ),
        explicit=explicit,
    )


def _seconds(env, name: str, default: int) -> int:
    """A positive whole number from the environment: seconds, or a count of failures."""
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {text!r}")
    return int(text)
