"""Production refuses weak settings (ates.production): every rule, for the process it concerns.
Development is never checked."""

import pytest

from ates.bus.users import keep_password
from ates.config import load_settings
from ates.production import UnsafeProductionSettings, check_production

GOOD = {
    "ATES_ENV": "production",
    "ATES_AUTH_ISSUER": "https://sso.uberpopug.example",
    "ATES_GATEWAY_URL": "https://ates.uberpopug.example",
    "ATES_AUTH_SECRET_KEY": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "ATES_GATEWAY_SECRET_KEY": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    "ATES_GATEWAY_CLIENT_SECRET": "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13",
    "ATES_ADMIN_PASSWORD": "seven green parrots",
    "ATES_AMQP_URL": "amqps://rabbit.uberpopug.example/ates",  # where; each process signs in as its own user
    "ATES_METRICS_TOKEN": "m3tr1cs-scraper-token-of-32-chars",
    **{
        f"ATES_AMQP_PASSWORD_{service}": f"3a7bd3e2360a3d29eea436fcfb7e44c7-{service.lower()}"
        for service in ("AUTH", "TRACKER", "ACCOUNTING", "ANALYTICS")
    },
}
COOKIE = {
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}
PROCESSES = (
    [(service, "web") for service in ("auth", "gateway", "tracker", "accounting", "analytics")]
    + [(service, "worker") for service in ("auth", "tracker", "accounting", "analytics")]
    + [("accounting", "scheduler")]
)


def check(service, process="web", cookie=COOKIE, **changes):
    env = {name: value for name, value in {**GOOD, **changes}.items() if value is not None}
    check_production(load_settings(service, env), process=process, flask_config=cookie, env=env)


def refusal(service, process="web", cookie=COOKIE, **changes) -> str:
    with pytest.raises(UnsafeProductionSettings) as refused:
        check(service, process, cookie, **changes)
    return str(refused.value)


@pytest.mark.parametrize("service, process", PROCESSES)
def test_strong_settings_start_every_process(service, process):
    check(service, process)


@pytest.mark.parametrize(
    "service, changes, problem",
    [
        # secrets: set, long, not a repeated character
        (
            "gateway",
            {"ATES_GATEWAY_SECRET_KEY": "x"},
            "ATES_GATEWAY_SECRET_KEY is shorter than 32 characters",
        ),
        ("gateway", {"ATES_GATEWAY_SECRET_KEY": None}, "ATES_GATEWAY_SECRET_KEY is not set"),
        (
            "gateway",
            {"ATES_GATEWAY_SECRET_KEY": "k" * 40},
            "ATES_GATEWAY_SECRET_KEY repeats a few characters",
        ),
        (
            "gateway",
            {"ATES_GATEWAY_CLIENT_SECRET": "dev-gateway-secret"},
            "ATES_GATEWAY_CLIENT_SECRET is shorter than 32",
        ),
        (
            "auth",
            {"ATES_AUTH_SECRET_KEY": "compose-auth-session-key"},
            "ATES_AUTH_SECRET_KEY is shorter than 32",
        ),
        ("auth", {"ATES_GATEWAY_CLIENT_SECRET": None}, "ATES_GATEWAY_CLIENT_SECRET is not set"),
        # the first admin's password
        ("auth", {"ATES_ADMIN_PASSWORD": "a"}, "ATES_ADMIN_PASSWORD is shorter than 12 characters"),
        ("auth", {"ATES_ADMIN_PASSWORD": None}, "ATES_ADMIN_PASSWORD is not set"),
        # public URLs: https only
        (
            "auth",
            {"ATES_AUTH_ISSUER": "http://auth.localhost:5001"},
            "ATES_AUTH_ISSUER must be an https:// URL",
        ),
        (
            "auth",
            {"ATES_AUTH_ISSUER": None},
            "ATES_AUTH_ISSUER must be an https:// URL, got 'http://localhost:5001'",
        ),
        (
            "auth",
            {"ATES_GATEWAY_URL": "http://ates.uberpopug.example"},
            "ATES_GATEWAY_URL must be an https:// URL",
        ),
        ("gateway", {"ATES_GATEWAY_URL": None}, "ATES_GATEWAY_URL must be an https:// URL"),
        ("gateway", {"ATES_AUTH_ISSUER": "https://"}, "ATES_AUTH_ISSUER must be an https:// URL"),
        (
            "tracker",
            {"ATES_AUTH_ISSUER": "http://sso.uberpopug.example"},
            "ATES_AUTH_ISSUER must be an https:// URL",
        ),
        (
            "analytics",
            {"ATES_AUTH_ISSUER": "ftp://sso.uberpopug.example"},
            "ATES_AUTH_ISSUER must be an https:// URL",
        ),
        # the broker: never its guest user, whatever the variable is called
        (
            "tracker",
            {"ATES_AMQP_URL": "amqp://guest:guest@localhost:5672/%2F"},
            "ATES_AMQP_URL signs in as the broker's default user 'guest'",
        ),
        (
            "gateway",
            {"ATES_AMQP_URL": "amqp://guest:s3cret-and-long@rabbit/%2F"},
            "default user 'guest'",
        ),
        (  # on any node of a cluster
            "tracker",
            {"ATES_AMQP_URL": "amqps://rabbit-1/ates,amqps://guest:s3cret-and-long@rabbit-2/ates"},
            "default user 'guest'",
        ),
        (
            "accounting",
            {"ACCOUNTING_AMQP_URL": "amqp://guest:guest@rabbit/%2F"},
            "ACCOUNTING_AMQP_URL signs in as the broker's default user",
        ),
    ],
)
def test_weak_web_settings_are_refused_with_words(service, changes, problem):
    words = refusal(service, **changes)
    assert words.startswith(f"{service} web refuses to start in production: ") and problem in words


@pytest.mark.parametrize("service", ["auth", "tracker", "accounting", "analytics"])
def test_a_worker_needs_a_broker_password_of_its_own(service):
    variable = f"ATES_AMQP_PASSWORD_{service.upper()}"
    assert f"{variable} is not set" in refusal(service, "worker", **{variable: None})
    assert f"{variable} is shorter than 32 characters" in refusal(
        service, "worker", **{variable: "guest"}
    )
    assert "default user 'guest'" in refusal(
        service, "worker", ATES_AMQP_URL="amqp://guest:guest@rabbit:5672/%2F"
    )


def test_the_development_password_file_counts_for_nothing_in_production(tmp_path):
    keep_password(tmp_path, "ates-tracker")
    assert "ATES_AMQP_PASSWORD_TRACKER is not set" in refusal(
        "tracker", "worker", ATES_VAR_DIR=str(tmp_path), ATES_AMQP_PASSWORD_TRACKER=None
    )


def test_a_worker_needs_no_web_secrets_and_the_scheduler_no_broker():
    check("tracker", "worker", ATES_GATEWAY_SECRET_KEY=None, ATES_AUTH_ISSUER="http://x")
    check("accounting", "scheduler", ATES_AMQP_URL=None, ATES_AMQP_PASSWORD_ACCOUNTING=None)


@pytest.mark.parametrize("service", ["auth", "gateway"])
@pytest.mark.parametrize(
    "cookie, lacking",
    [
        ({**COOKIE, "SESSION_COOKIE_SECURE": False}, "Secure"),
        ({**COOKIE, "SESSION_COOKIE_HTTPONLY": False}, "HttpOnly"),
        ({**COOKIE, "SESSION_COOKIE_SAMESITE": None}, "SameSite=Lax/Strict"),
        ({**COOKIE, "SESSION_COOKIE_SAMESITE": "None"}, "SameSite=Lax/Strict"),
        ({}, "Secure, SameSite=Lax/Strict"),
    ],
)
def test_a_session_cookie_must_be_secure_http_only_and_same_site(service, cookie, lacking):
    assert f"the session cookie lacks {lacking}" in refusal(service, cookie=cookie)


def test_every_problem_is_named_at_once():
    words = refusal(
        "auth", ATES_AUTH_SECRET_KEY=None, ATES_ADMIN_PASSWORD="a", ATES_AUTH_ISSUER="http://sso"
    )
    assert words == (
        "auth web refuses to start in production: ATES_AUTH_SECRET_KEY is not set; ATES_ADMIN_PASSWORD "
        "is shorter than 12 characters; ATES_AUTH_ISSUER must be an https:// URL, got 'http://sso'."
    )


def test_values_the_process_really_uses_win_over_the_environment():
    settings = load_settings("gateway", GOOD)
    with pytest.raises(UnsafeProductionSettings, match="ATES_GATEWAY_SECRET_KEY is not set"):
        check_production(
            settings, given={"ATES_GATEWAY_SECRET_KEY": None}, flask_config=COOKIE, env=GOOD
        )


def test_development_is_not_checked():
    check_production(
        load_settings("auth", {}), flask_config={}, env={"ATES_AMQP_URL": "amqp://guest:guest@x/"}
    )


def start_worker():
    from ates.bus.worker import run_worker

    run_worker("tracker", None, None, None, argv=["declare"])


def start_scheduler():
    from accounting import scheduler

    scheduler.main()


def start_web(service):
    def start():
        module = __import__(f"{service}.app", fromlist=["create_app"])
        module.create_app()

    return start


@pytest.mark.parametrize(
    "start, weak",
    [
        (start_worker, {"ATES_AMQP_URL": "amqp://guest:guest@localhost:5672/%2F"}),
        (start_scheduler, {"ACCOUNTING_AMQP_URL": "amqp://guest:guest@localhost:5672/%2F"}),
        (start_web("tracker"), {"ATES_AUTH_ISSUER": "http://sso.uberpopug.example"}),
        (start_web("accounting"), {"ATES_AUTH_ISSUER": "http://sso.uberpopug.example"}),
        (start_web("analytics"), {"ATES_AUTH_ISSUER": "http://sso.uberpopug.example"}),
        (start_web("gateway"), {"ATES_GATEWAY_SECRET_KEY": "x"}),
        (start_web("auth"), {"ATES_ADMIN_PASSWORD": "a"}),
    ],
    ids=["worker", "scheduler", "tracker", "accounting", "analytics", "gateway", "auth"],
)
def test_every_process_checks_before_it_starts(monkeypatch, tmp_path, start, weak):
    for name, value in {**GOOD, "ATES_VAR_DIR": str(tmp_path), **weak}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UnsafeProductionSettings, match="refuses to start in production"):
        start()
