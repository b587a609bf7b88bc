"""Settings from the environment: every variable an aTES service reads, its default, in one place.

A process reads its settings once, where it starts (`service_app`, the worker runner, the
scheduler), and hands them to what needs them; nothing below reads the environment itself. Two
deliberate exceptions keep their own loaders beside this one: auth's secrets and lifetimes
(auth/settings.py, on top of these) and the command-line client's own folder (cli/token_store.py).

The defaults are the development setup of SPEC §7; production must set its secrets explicitly
(ates.production checks them). `ATES_ENV` is `development` (the default) or `production`; any
other value stops the process, so a typo such as `prod` never means development unnoticed.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"
DEFAULT_AMQP_USER_PREFIX = (
    "ates-"  # a service's broker user is <prefix><service> (ates/bus/users.py)
)
DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000, 120_000, 600_000)
# Replicas of each quorum queue made: one node may fail (docs/bus.md, "Several broker nodes"). The
# broker caps it at the cluster's size, so 3 fits a single node as well.
DEFAULT_QUORUM_SIZE = 3
ENVIRONMENTS = ("development", "production")
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024  # the largest JSON or form aTES takes is a few KB
DEFAULT_PORTS = {
    "gateway": 5000,
    "auth": 5001,
    "tracker": 5002,
    "accounting": 5003,
    "analytics": 5004,
    "notifier": 5005,
}
DEFAULT_REASSIGNMENT_QUIET_S = 5.0  # a reassignment job silent this long is told (notifier)
DEFAULT_SCHEDULER_INTERVAL_S = 30.0  # how often the billing-day scheduler looks at the clock
DEFAULT_MANAGEMENT_URL = (
    "http://localhost:15672/"  # the RabbitMQ management UI the admin pages link to
)


@dataclass(frozen=True)
class Settings:
    service: str
    environment: str
    database_url: str
    amqp_admin_url: (
        str  # ATES_AMQP_URL: where the broker's nodes are (comma-separated); its credentials
        # serve only provisioning
    )
    amqp_user_prefix: str  # a service's broker user is <prefix><service>
    amqp_password: str | None  # this service's own broker password
    retry_delays_ms: tuple[int, ...]
    quorum_size: int  # ATES_AMQP_QUORUM_SIZE: replicas of each quorum queue a consumer makes
    var_dir: Path
    timezone: ZoneInfo  # where a billing day and an analytics day begin and end
    smtp_host: str
    smtp_port: int
    mail_from: str
    max_request_bytes: int  # a larger request body is refused with 413 (ates/web.py)
    metrics_token: (
        str | None
    )  # what a scraper of /metrics must send (ates/metrics.py); None: nothing
    auth_issuer: str  # the SSO every token comes from (ATES_AUTH_ISSUER, else the local auth)
    service_urls: dict[str, str]  # where each web service listens (ATES_<SERVICE>_URL / _PORT)
    gateway_secret_key: str | None  # ATES_GATEWAY_SECRET_KEY: signs the gateway's session cookie
    gateway_client_secret: str | None  # ATES_GATEWAY_CLIENT_SECRET: the gateway's secret at the SSO
    rabbitmq_management_url: str  # ATES_RABBITMQ_MANAGEMENT_URL: the broker's UI, for admins' links
    scheduler_interval_s: float  # ATES_SCHEDULER_INTERVAL_S: the billing-day scheduler's round
    reassignment_quiet_s: float  # ATES_REASSIGNMENT_QUIET_S: when the notifier tells a job's moves
    outbox_wakeups: (
        bool  # ATES_OUTBOX_WAKEUPS: relays and runners LISTEN on PostgreSQL (bus/wakeup)
    )

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def amqp_user(self) -> str:
        from ates.bus.users import user_name  # the bus package imports this module: not at the top

        return user_name(self.service, self.amqp_user_prefix)

    @property
    def amqp_url(self) -> str:
        """The broker as this service's own user; no process connects as the administrator."""
        if self.amqp_password is None:
            source = (
                f"ATES_AMQP_PASSWORD_{self.service.upper()}"
                if self.is_production
                else f"{self.var_dir}/broker/{self.amqp_user}.password "
                "(python -m ates.bus.provision makes it; bin/up runs it)"
                f" or ATES_AMQP_PASSWORD_{self.service.upper()}"
            )
            raise RuntimeError(f"no broker password for {self.amqp_user}: set {source}")
        from ates.bus.users import with_credentials

        return with_credentials(self.amqp_admin_url, self.amqp_user, self.amqp_password)


def load_settings(service: str, env=None) -> Settings:
    """Settings of one service; `<SERVICE>_DATABASE_URL` wins over `DATABASE_URL`.

    The prefixed name lets one shell (the Procfile runner) hold every service's database,
    while a container of its own sets plain DATABASE_URL.
    """
    env = os.environ if env is None else env
    var_dir = Path(env.get("ATES_VAR_DIR", ROOT / "var"))
    database_url = (
        env.get(f"{service.upper()}_DATABASE_URL")
        or env.get("DATABASE_URL")
        or f"sqlite:///{var_dir / service}.db"
    )
    return Settings(
        service=service,
        environment=_parse_environment(env.get("ATES_ENV", "development")),
        database_url=database_url,
        amqp_admin_url=env.get("ATES_AMQP_URL", DEFAULT_AMQP_URL),
        amqp_user_prefix=env.get("ATES_AMQP_USER_PREFIX", DEFAULT_AMQP_USER_PREFIX),
        amqp_password=_amqp_password(service, env, var_dir),
        retry_delays_ms=_parse_delays(env.get("ATES_RETRY_DELAYS_MS")),
        quorum_size=_parse_quorum_size(env.get("ATES_AMQP_QUORUM_SIZE")),
        var_dir=var_dir,
        timezone=_parse_timezone(env.get("ATES_TIMEZONE", "UTC")),
        smtp_host=env.get("ATES_SMTP_HOST", "localhost"),
        smtp_port=int(env.get("ATES_SMTP_PORT", "8025")),
        mail_from=env.get("ATES_MAIL_FROM", "notifier@uberpopug.example"),
        max_request_bytes=_parse_byte_count(env.get("ATES_MAX_REQUEST_BYTES")),
        metrics_token=env.get("ATES_METRICS_TOKEN", "").strip() or None,
        auth_issuer=auth_issuer(env),
        service_urls={name: service_url(name, env) for name in DEFAULT_PORTS},
        gateway_secret_key=env.get("ATES_GATEWAY_SECRET_KEY") or None,
        gateway_client_secret=env.get("ATES_GATEWAY_CLIENT_SECRET") or None,
        rabbitmq_management_url=env.get("ATES_RABBITMQ_MANAGEMENT_URL", DEFAULT_MANAGEMENT_URL),
        scheduler_interval_s=_parse_interval(env.get("ATES_SCHEDULER_INTERVAL_S")),
        reassignment_quiet_s=_parse_interval(
            env.get("ATES_REASSIGNMENT_QUIET_S"),
            DEFAULT_REASSIGNMENT_QUIET_S,
            "ATES_REASSIGNMENT_QUIET_S",
        ),
        outbox_wakeups=_parse_switch(env.get("ATES_OUTBOX_WAKEUPS", "on"), "ATES_OUTBOX_WAKEUPS"),
    )


def _parse_switch(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {text!r}")


def _amqp_password(service: str, env, var_dir: Path) -> str | None:
    """From the environment; in development also from the file provisioning keeps under the var dir."""
    from ates.bus.users import read_password, user_name  # the bus package imports this module

    given = env.get(f"ATES_AMQP_PASSWORD_{service.upper()}")
    if given or env.get("ATES_ENV", "development") == "production":
        return given or None
    return read_password(
        var_dir, user_name(service, env.get("ATES_AMQP_USER_PREFIX", DEFAULT_AMQP_USER_PREFIX))
    )


def _parse_environment(name: str) -> str:
    if name not in ENVIRONMENTS:
        raise ValueError(f"ATES_ENV must be {' or '.join(ENVIRONMENTS)}, got {name!r}")
    return name


def _parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"ATES_TIMEZONE must name an IANA time zone such as Europe/Moscow, got {name!r}"
        ) from error


def _parse_byte_count(text: str | None) -> int:
    if not text:
        return DEFAULT_MAX_REQUEST_BYTES
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count <= 0:
        raise ValueError(f"ATES_MAX_REQUEST_BYTES must be a positive number of bytes, got {text!r}")
    return count


def _parse_interval(
    text: str | None,
    default: float = DEFAULT_SCHEDULER_INTERVAL_S,
    name: str = "ATES_SCHEDULER_INTERVAL_S",
) -> float:
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {text!r}")
    return seconds


def _parse_quorum_size(text: str | None) -> int:
    if not text:
        return DEFAULT_QUORUM_SIZE
    size = int(text) if text.strip().isdigit() else 0
    if size <= 0:
        raise ValueError(f"ATES_AMQP_QUORUM_SIZE must be a positive number of nodes, got {text!r}")
    return size


def _parse_delays(text: str | None) -> tuple[int, ...]:
    if not text:
        return DEFAULT_RETRY_DELAYS_MS
    delays = tuple(int(part) for part in text.split(",") if part.strip())
    if not delays or any(delay <= 0 for delay in delays):
        raise ValueError(f"ATES_RETRY_DELAYS_MS must list positive milliseconds, got {text!r}")
    return delays


def service_url(service: str, env=None) -> str:
    """Where a service's web process listens: `ATES_<SERVICE>_URL`, else localhost and its port."""
    env = os.environ if env is None else env
    port = env.get(f"ATES_{service.upper()}_PORT", DEFAULT_PORTS[service])
    return env.get(f"ATES_{service.upper()}_URL", f"http://localhost:{port}")


def auth_issuer(env=None) -> str:
    """The SSO's issuer URL: `ATES_AUTH_ISSUER`, else the local auth service."""
    env = os.environ if env is None else env
    return env.get("ATES_AUTH_ISSUER", service_url("auth", env)).rstrip("/")
