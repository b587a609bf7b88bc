"""load_settings reads an explicit environment: database, broker, retry delays, environment."""

from pathlib import Path

import pytest

from ates.bus.users import keep_password
from ates.config import DEFAULT_AMQP_URL, DEFAULT_RETRY_DELAYS_MS, ROOT, load_settings


def test_empty_environment_gives_the_development_defaults():
    settings = load_settings("tracker", env={})
    assert settings.service == "tracker"
    assert settings.var_dir == ROOT / "var"
    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'tracker'}.db"
    assert settings.amqp_admin_url == DEFAULT_AMQP_URL and settings.amqp_user == "ates-tracker"
    assert settings.retry_delays_ms == DEFAULT_RETRY_DELAYS_MS
    assert settings.environment == "development"
    assert not settings.is_production


def test_sqlite_default_lives_under_ates_var_dir(tmp_path):
    settings = load_settings("accounting", env={"ATES_VAR_DIR": str(tmp_path)})
    assert settings.var_dir == Path(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path}/accounting.db"


@pytest.mark.parametrize(
    "env, url",
    [
        ({"DATABASE_URL": "postgresql://plain/db"}, "postgresql://plain/db"),
        (
            {
                "TRACKER_DATABASE_URL": "postgresql://own/db",
                "DATABASE_URL": "postgresql://plain/db",
            },
            "postgresql://own/db",
        ),
        (
            {"AUTH_DATABASE_URL": "postgresql://auth/db", "DATABASE_URL": "postgresql://plain/db"},
            "postgresql://plain/db",
        ),
        (
            {"TRACKER_DATABASE_URL": "", "DATABASE_URL": "postgresql://plain/db"},
            "postgresql://plain/db",
        ),
    ],
)
def test_service_database_url_wins_over_plain_database_url(env, url):
    assert load_settings("tracker", env=env).database_url == url


def test_a_service_reaches_the_broker_as_its_own_user_never_as_the_url_s_administrator():
    env = {"ATES_AMQP_URL": "amqp://x:y@rabbit/v", "ATES_AMQP_PASSWORD_AUTH": "s3cret/"}
    assert load_settings("auth", env=env).amqp_url == "amqp://ates-auth:s3cret%2F@rabbit/v"
    env["ATES_AMQP_USER_PREFIX"] = "staging-"
    assert load_settings("auth", env=env).amqp_url == "amqp://staging-auth:s3cret%2F@rabbit/v"


def test_in_development_the_password_comes_from_what_provisioning_kept_under_the_var_dir(tmp_path):
    keep_password(tmp_path, "ates-tracker")
    kept = (tmp_path / "broker" / "ates-tracker.password").read_text().strip()
    assert (
        load_settings("tracker", env={"ATES_VAR_DIR": str(tmp_path)}).amqp_url
        == f"amqp://ates-tracker:{kept}@localhost:5672/%2F"
    )
    assert keep_password(tmp_path, "ates-tracker") == kept, "made once, then kept"


@pytest.mark.parametrize("environment", ["development", "production"])
def test_without_a_password_a_service_says_where_to_put_one(tmp_path, environment):
    keep_password(tmp_path, "ates-tracker")  # production never reads the development file
    settings = load_settings(
        "analytics", env={"ATES_VAR_DIR": str(tmp_path), "ATES_ENV": environment}
    )
    with pytest.raises(
        RuntimeError,
        match="no broker password for ates-analytics: set .*ATES_AMQP_PASSWORD_ANALYTICS",
    ):
        _ = settings.amqp_url
    production = load_settings(
        "tracker", env={"ATES_VAR_DIR": str(tmp_path), "ATES_ENV": "production"}
    )
    assert production.amqp_password is None


@pytest.mark.parametrize(
    "text, delays",
    [
        ("200,400", (200, 400)),
        (" 1000 , 5000 ,", (1000, 5000)),
        ("", DEFAULT_RETRY_DELAYS_MS),  # set but empty counts as unset
    ],
)
def test_retry_delays_are_read_in_milliseconds(text, delays):
    assert load_settings("tracker", env={"ATES_RETRY_DELAYS_MS": text}).retry_delays_ms == delays


@pytest.mark.parametrize("text", [",", " , ", "0", "200,0", "-5", "100,-1", "soon", "1.5"])
def test_retry_delays_that_are_empty_zero_negative_or_not_numbers_are_rejected(text):
    with pytest.raises(ValueError):
        load_settings("tracker", env={"ATES_RETRY_DELAYS_MS": text})


@pytest.mark.parametrize("environment, production", [("production", True), ("development", False)])
def test_production_flag_follows_ates_env(environment, production):
    settings = load_settings("tracker", env={"ATES_ENV": environment})
    assert settings.environment == environment
    assert settings.is_production is production


@pytest.mark.parametrize(
    "environment", ["prod", "Production", "PRODUCTION", "production ", "dev", "test", "staging", ""]
)
def test_an_unknown_ates_env_stops_the_process_with_words(environment):
    with pytest.raises(ValueError) as refused:
        load_settings("tracker", env={"ATES_ENV": environment})
    assert str(refused.value) == f"ATES_ENV must be development or production, got {environment!r}"


def test_timezone_and_mail_defaults():
    settings = load_settings("accounting", env={})
    assert settings.timezone.key == "UTC"
    assert (settings.smtp_host, settings.smtp_port) == ("localhost", 8025)


def test_timezone_is_read_and_a_wrong_one_is_named():
    assert (
        load_settings("accounting", env={"ATES_TIMEZONE": "Europe/Moscow"}).timezone.key
        == "Europe/Moscow"
    )
    with pytest.raises(ValueError, match="ATES_TIMEZONE"):
        load_settings("accounting", env={"ATES_TIMEZONE": "Mars/Olympus"})


@pytest.mark.parametrize(
    "text, on", [(None, True), ("on", True), ("1", True), ("off", False), ("0", False)]
)
def test_outbox_wakeups_are_on_unless_turned_off(text, on):
    env = {} if text is None else {"ATES_OUTBOX_WAKEUPS": text}
    assert load_settings("tracker", env=env).outbox_wakeups is on


def test_an_outbox_wakeups_switch_that_is_neither_on_nor_off_stops_the_process():
    with pytest.raises(ValueError, match="ATES_OUTBOX_WAKEUPS must be on or off, got 'sometimes'"):
        load_settings("tracker", env={"ATES_OUTBOX_WAKEUPS": "sometimes"})
