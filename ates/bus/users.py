"""Who is who on the broker: one RabbitMQ user per service, allowed its own exchanges and queues only.

A service's user `<prefix><service>` may declare and write only names that start with `<service>.`
(its `.events` exchange, its `.retry` and `.dead` exchanges, its queues and its relay lease) and
read only those plus the `.events` exchanges of the producers it consumes (binding a queue needs
read on the exchange). The operator user `<prefix>operator` reads `.dead` queues and writes the
`.retry` exchanges a replay goes through; it configures nothing. Nobody writes the default exchange.

The broker stamps nothing itself, but it refuses a publish whose `user_id` is not the connection's
user: so every publish carries `user_id`, and a consumer believes it (docs/bus.md, "Trust").
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pika

from ates.bus.nodes import join_urls, node_urls
from ates.config import DEFAULT_AMQP_USER_PREFIX as DEFAULT_PREFIX

OPERATOR = "operator"
# Which producers' events each service consumes: its read permission. A unit test holds it to the
# services' handlers, so a new subscription without a permission fails there, not on a live broker.
CONSUMES: dict[str, tuple[str, ...]] = {
    "auth": (),
    "tracker": ("auth",),
    "accounting": ("auth", "tracker"),
    "analytics": ("auth", "tracker", "accounting"),
    "notifier": ("auth", "tracker", "accounting"),
}
SERVICES = tuple(CONSUMES)
ORIGINAL_USER = (
    "ates-original-user-id"  # on a retry or dead copy: the user_id the event first arrived with
)


def user_name(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}{service}"


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ's three regular expressions for one user in one virtual host."""

    configure: str
    write: str
    read: str


def permissions(service: str, consumes: tuple[str, ...] | None = None) -> Permissions:
    if service == OPERATOR:
        return Permissions(configure="^$", write=r"^[a-z0-9_-]+\.retry$", read=r"\.dead$")
    consumes = CONSUMES.get(service, ()) if consumes is None else consumes
    own = f"^{re.escape(service)}\\."
    read = own if not consumes else f"{own}|^({'|'.join(re.escape(p) for p in consumes)})\\.events$"
    return Permissions(configure=own, write=own, read=read)


@dataclass(frozen=True)
class Identity:
    """How a consumer tells who wrote a message: each service's user is `<prefix><service>`."""

    prefix: str
    service: str

    @classmethod
    def of(cls, user: str, service: str) -> Identity:
        """The identity a process has when it connects as `user` for `service`."""
        if not user.endswith(service):
            raise ValueError(
                f"{service} connects to the broker as {user!r}, but aTES names each service's "
                f"broker user <prefix>{service} (e.g. {user_name(service)}); see docs/bus.md"
            )
        return cls(user[: len(user) - len(service)], service)

    @property
    def user(self) -> str:
        return user_name(self.service, self.prefix)

    def user_of(self, service: str) -> str:
        return user_name(service, self.prefix)


# -- credentials ------------------------------------------------------------------------------


def password_file(var_dir: Path, user: str) -> Path:
    return Path(var_dir) / "broker" / f"{user}.password"


def read_password(var_dir: Path, user: str) -> str | None:
    path = password_file(var_dir, user)
    return path.read_text().strip() if path.exists() else None


def keep_password(var_dir: Path, user: str) -> str:
    """The development password of `user` under the var dir, made (mode 0600) the first time."""
    found = read_password(var_dir, user)
    if found:
        return found
    path = password_file(var_dir, user)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` (scheme, host, port, virtual host; of each node when it lists several) as `user`; the
    credentials it had are dropped."""
    signed = quote(user, safe="") + ":" + quote(password, safe="")
    return join_urls(
        urlunsplit(parts._replace(netloc=f"{signed}@{parts.netloc.rpartition('@')[2]}"))
        for parts in map(urlsplit, node_urls(url))
    )


def credentials_of(url: str) -> tuple[str, str]:
    """The user and password an AMQP URL carries (its first node's); RabbitMQ's default when none."""
    parts = urlsplit(node_urls(url)[0])
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


MANAGEMENT_PORT = 15672


def management_urls_for(amqp_url: str, env=None) -> list[str]:
    """Where the management HTTP API is: from the environment, else port 15672 of each AMQP node."""
    env = os.environ if env is None else env
    found = env.get("ATES_RABBITMQ_MANAGEMENT_API_URL") or env.get("ATES_RABBITMQ_MANAGEMENT_URL")
    if found:
        return [found.rstrip("/")]
    hosts = dict.fromkeys(pika.URLParameters(url).host for url in node_urls(amqp_url))
    return [f"http://{host}:{MANAGEMENT_PORT}" for host in hosts]


def management_url_for(amqp_url: str, env=None) -> str:
    """The management API of the first node (every node of a cluster answers for all of it)."""
    return management_urls_for(amqp_url, env)[0]
