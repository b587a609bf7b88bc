"""What auth reads from the environment beyond the shared settings: issuer, secrets, clients, lifetimes.

Development has defaults for everything; production (`ATES_ENV=production`) refuses to start on
any of them (`production_problems`). The client table is docs/sso-contract.md's.
"""
import os
from dataclasses import dataclass

from ates.config import service_url
from auth import passwords
from auth.domain import FailureWindow, LoginLimits

DEV_SECRET_KEY = "dev-auth-secret-key-not-for-production"
DEV_ADMIN_PASSWORD = "admin"
DEV_GATEWAY_CLIENT_SECRET = "dev-gateway-secret"
CLI_REDIRECT_URI = "http://127.0.0.1:8976/callback"
OFFLINE_ACCESS = "offline_access"  # asks for a refresh token (OIDC core §11)
API_SCOPE = "ates-api"  # calling the services' APIs, auth's own included (docs/sso-contract.md)
SCOPES = ("openid", "profile", "email", OFFLINE_ACCESS, API_SCOPE)
DEFAULT_SCOPE = "openid"  # what a client that names no scope gets: no refresh token, no API access
ACCESS_TOKEN_AUDIENCE = "ates-api"
MIN_SECRET_LENGTH = 16


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
    secret_key: str
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
            ClientConfig("ates-gateway", "aTES web", self.gateway_client_secret,
                         (f"{self.gateway_url}/auth/callback",)),
            ClientConfig("ates-cli", "aTES command line", None, (CLI_REDIRECT_URI,)),
        )

    def production_problems(self) -> list[str]:
        """Why these settings are unfit for production; empty when they are fine."""
        problems = []
        for variable, value, default in (
            ("ATES_AUTH_SECRET_KEY", self.secret_key, DEV_SECRET_KEY),
            ("ATES_ADMIN_PASSWORD", self.admin_password, DEV_ADMIN_PASSWORD),
            ("ATES_GATEWAY_CLIENT_SECRET", self.gateway_client_secret, DEV_GATEWAY_CLIENT_SECRET),
        ):
            if variable not in self.explicit:
                problems.append(f"{variable} is not set")
            elif value == default:
                problems.append(f"{variable} is the development default")
            elif variable == "ATES_ADMIN_PASSWORD":
                problems.extend(_admin_password_problems(value))
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{variable} is shorter than {MIN_SECRET_LENGTH} characters")
        return problems


def _admin_password_problems(password: str) -> list[str]:
    # A person types this one, so it is held to the rules of every password, not to a secret's length.
    if len(password) < passwords.MIN_LENGTH:
        return [f"ATES_ADMIN_PASSWORD is shorter than {passwords.MIN_LENGTH} characters"]
    if passwords.weakness(password, "admin"):
        return ["ATES_ADMIN_PASSWORD is a common password"]
    return []


def load_auth_settings(env=None) -> AuthSettings:
    env = os.environ if env is None else env
    explicit = frozenset(name for name in ("ATES_AUTH_SECRET_KEY", "ATES_ADMIN_PASSWORD", "ATES_GATEWAY_CLIENT_SECRET")
                         if env.get(name))
    return AuthSettings(
        issuer=(env.get("ATES_AUTH_ISSUER") or service_url("auth", env)).rstrip("/"),
        secret_key=env.get("ATES_AUTH_SECRET_KEY") or DEV_SECRET_KEY,
        admin_password=env.get("ATES_ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD,
        gateway_client_secret=env.get("ATES_GATEWAY_CLIENT_SECRET") or DEV_GATEWAY_CLIENT_SECRET,
        gateway_url=service_url("gateway", env).rstrip("/"),
        access_token_ttl=_seconds(env, "ATES_ACCESS_TOKEN_TTL", 900),
        refresh_token_ttl=_seconds(env, "ATES_REFRESH_TOKEN_TTL", 14 * 24 * 3600),
        refresh_family_lifetime=_seconds(env, "ATES_REFRESH_FAMILY_LIFETIME", 30 * 24 * 3600),
        authorization_code_ttl=_seconds(env, "ATES_AUTHORIZATION_CODE_TTL", 300),
        login_limits=LoginLimits(
            per_client=FailureWindow(_seconds(env, "ATES_LOGIN_FAILURES_PER_IP", 8)),
            per_username=FailureWindow(_seconds(env, "ATES_LOGIN_FAILURES_PER_USERNAME", 10))),
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
