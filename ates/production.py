"""What a process demands of its settings before it starts with `ATES_ENV=production`, in one place.

Every app factory and worker calls `check_production`; it refuses to start, naming every problem,
on a missing or short secret, a weak admin password, a public URL without https, a session cookie
a script or plain http could read, the broker's `guest` user, or a process without a broker
password of its own. Development is not checked.
"""

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ates.bus.nodes import node_urls
from ates.config import Settings, service_url

MIN_SECRET_LENGTH = 32  # a session key or client secret: long enough that guessing it is hopeless
MIN_ADMIN_PASSWORD_LENGTH = 12
BROKER_DEFAULT_USER = "guest"  # RabbitMQ's own default account, whose password everybody knows
SAME_SITE = ("Lax", "Strict")


class UnsafeProductionSettings(RuntimeError):
    pass


@dataclass(frozen=True)
class Needs:
    secrets: tuple[str, ...] = ()  # variables that must hold a secret of MIN_SECRET_LENGTH
    admin_password: str | None = None  # the variable of the first admin's password
    public_urls: tuple[str, ...] = ()  # "issuer" and/or "gateway": what browsers and tokens name
    session_cookie: bool = False  # the process signs a browser session
    broker: bool = False  # the process talks to RabbitMQ itself


WEB = {
    "auth": Needs(
        secrets=("ATES_AUTH_SECRET_KEY", "ATES_GATEWAY_CLIENT_SECRET"),
        admin_password="ATES_ADMIN_PASSWORD",
        public_urls=("issuer", "gateway"),
        session_cookie=True,
    ),
    "gateway": Needs(
        secrets=("ATES_GATEWAY_SECRET_KEY", "ATES_GATEWAY_CLIENT_SECRET"),
        public_urls=("issuer", "gateway"),
        session_cookie=True,
    ),  # its dead-letter page is optional
    "tracker": Needs(public_urls=("issuer",)),
    "accounting": Needs(public_urls=("issuer",)),
    "analytics": Needs(public_urls=("issuer",)),
    "notifier": Needs(public_urls=("issuer",)),
}
OTHER_PROCESSES = {
    "worker": Needs(broker=True),
    "scheduler": Needs(),
}  # the scheduler has only a database


def check_production(
    settings: Settings,
    *,
    process: str = "web",
    given: dict | None = None,
    flask_config=None,
    env=None,
    more_problems=(),
) -> None:
    """Raise UnsafeProductionSettings when production settings are weak; nothing in development.

    `given` holds the values the process really uses, by variable name (None: not set, whatever
    development default stands in); a variable not in it is read from `env` (os.environ).
    `more_problems`: what the service itself found wrong (auth: a common admin password).
    """
    if not settings.is_production:
        return
    needs = WEB[settings.service] if process == "web" else OTHER_PROCESSES[process]
    env = os.environ if env is None else env
    problems = production_problems(settings, needs, flask_config, {**env, **(given or {})}, env)
    problems += [
        problem for problem in more_problems if problem not in problems
    ]  # a service's own rules
    if problems:
        raise UnsafeProductionSettings(
            f"{settings.service} {process} refuses to start in production: {'; '.join(problems)}."
        )


def production_problems(settings: Settings, needs: Needs, flask_config, values, env) -> list[str]:
    problems = [_secret_problem(name, values.get(name)) for name in needs.secrets]
    if needs.admin_password:
        problems.append(
            _admin_password_problem(needs.admin_password, values.get(needs.admin_password))
        )
    problems += [_https_problem(name, url) for name, url in _public_urls(needs, values)]
    if needs.session_cookie:
        problems.append(_cookie_problem(flask_config or {}))
    problems += _broker_problems(settings, needs, values)
    return [problem for problem in problems if problem]


def _secret_problem(name: str, value: str | None) -> str | None:
    if not value:
        return f"{name} is not set"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < 8:
        return f"{name} repeats a few characters; use a random value (openssl rand -hex 32)"
    return None


def _admin_password_problem(name: str, value: str | None) -> str | None:
    if not value:
        return f"{name} is not set"
    if len(value) < MIN_ADMIN_PASSWORD_LENGTH:
        return f"{name} is shorter than {MIN_ADMIN_PASSWORD_LENGTH} characters"
    return None


def _public_urls(needs: Needs, values) -> list[tuple[str, str]]:
    found = []
    if "issuer" in needs.public_urls:  # as ates.tokens.auth_issuer reads it
        found.append(
            ("ATES_AUTH_ISSUER", values.get("ATES_AUTH_ISSUER") or service_url("auth", values))
        )
    if "gateway" in needs.public_urls:
        found.append(
            ("ATES_GATEWAY_URL", values.get("ATES_GATEWAY_URL") or service_url("gateway", values))
        )
    return found


def _https_problem(name: str, url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"{name} must be an https:// URL, got {url!r}"
    return None


def _cookie_problem(config) -> str | None:
    weak = [
        flag
        for flag, fine in (
            ("Secure", config.get("SESSION_COOKIE_SECURE") is True),
            ("HttpOnly", config.get("SESSION_COOKIE_HTTPONLY", True) is True),
            (f"SameSite={'/'.join(SAME_SITE)}", config.get("SESSION_COOKIE_SAMESITE") in SAME_SITE),
        )
        if not fine
    ]
    return f"the session cookie lacks {', '.join(weak)}" if weak else None


def _broker_problems(settings: Settings, needs: Needs, values) -> list[str | None]:
    """No `*_AMQP_URL` signs in as `guest` (a URL needs no credentials at all: each process is its own
    user, ates/bus/users.py), and a process on the broker has a real password of its own."""
    problems: list[str | None] = [
        f"{name} signs in as the broker's default user {BROKER_DEFAULT_USER!r}; processes use their "
        f"own users, so leave the credentials out of it"
        for name, url in sorted(values.items())
        if name.endswith("_AMQP_URL")
        and url
        and any(
            unquote(urlsplit(node).username or "") == BROKER_DEFAULT_USER for node in node_urls(url)
        )
    ]
    if needs.broker:
        problems.append(
            _secret_problem(
                f"ATES_AMQP_PASSWORD_{settings.service.upper()}", settings.amqp_password
            )
        )
    return problems
