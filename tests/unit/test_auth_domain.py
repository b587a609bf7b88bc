"""The pure rules of auth: usernames, emails, role changes and their events, the failure window,
beak print distance, where a login may send the browser, and production settings."""

from datetime import UTC, datetime, timedelta

import pytest

from ates import clock
from ates.bus import Event
from ates.schemas import registry
from auth import domain
from auth.domain import Account, AccountChange, FailureWindow, RuleBroken
from auth.settings import load_auth_settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KESHA = Account(
    "7c0e5d2a-3b9f-4f1e-9a6d-2f4b8c1e5a90",
    "kesha",
    "kesha@uberpopug.example",
    "Kesha Popugaev",
    "developer",
    True,
    1,
    NOW,
)
ADMIN_ID = "e41a9b37-6c2d-4d8e-b0f5-91c3a7d2e468"


@pytest.mark.parametrize(
    "raw, stored",
    [("kesha", "kesha"), ("  Kesha.P-1_ ", "kesha.p-1_"), ("abc", "abc"), ("a" * 64, "a" * 64)],
)
def test_usernames_are_stored_lower_case_and_trimmed(raw, stored):
    assert domain.normalize_username(raw) == stored


@pytest.mark.parametrize(
    "raw", ["", "ab", "a" * 65, "kesha popugaev", "кеша", "kesha!", "kesha@home", None]
)
def test_usernames_outside_the_rules_are_refused(raw):
    with pytest.raises(RuleBroken, match="3 to 64"):
        domain.normalize_username(raw)


@pytest.mark.parametrize(
    "email", ["kesha@uberpopug.example", "k.p+tasks@mail.uberpopug.example", "a@b.co"]
)
def test_an_accepted_email_always_passes_the_account_event_schema(email):
    """Forms and API accept only what the event schemas accept: no event can fail its schema later."""
    accepted = domain.check_email(email)
    message = Event(
        "account.created", 1, "/auth", {**KESHA.snapshot(), "email": accepted}
    ).to_message()
    registry().validate(message)


@pytest.mark.parametrize(
    "email",
    [
        "kesha",
        "kesha@",
        "@uberpopug.example",
        "kesha@localhost",
        "ke sha@a.example",
        "ä@ü.example",
        "a..b@c.example",
        "kesha@-a.example",
        "x" * 65 + "@a.example",
    ],
)
def test_emails_outside_the_rules_are_refused(email):
    with pytest.raises(RuleBroken, match="email address"):
        domain.check_email(email)


def test_a_role_change_raises_the_version_once_and_says_role_changed_and_updated():
    changed, events = domain.change_account(
        KESHA, AccountChange(role="manager", email="k@uberpopug.example"), ADMIN_ID
    )
    assert (changed.role, changed.email, changed.version) == ("manager", "k@uberpopug.example", 2)
    assert events == [
        (
            "account.role_changed",
            {
                "account_id": KESHA.account_id,
                "role": "manager",
                "previous_role": "developer",
                "version": 2,
            },
        ),
        ("account.updated", changed.snapshot()),
    ]


def test_deactivation_says_deactivated_and_updated():
    changed, events = domain.change_account(KESHA, AccountChange(active=False), ADMIN_ID)
    assert not changed.active and changed.version == 2
    assert [event_type for event_type, _ in events] == ["account.deactivated", "account.updated"]
    assert events[0][1] == {"account_id": KESHA.account_id, "version": 2}


def test_a_profile_change_is_only_an_update():
    changed, events = domain.change_account(KESHA, AccountChange(full_name="Innokenty"), ADMIN_ID)
    assert [event_type for event_type, _ in events] == ["account.updated"]
    assert events[0][1]["full_name"] == "Innokenty" and events[0][1]["version"] == 2


@pytest.mark.parametrize(
    "change",
    [
        AccountChange(),
        AccountChange(role="developer"),
        AccountChange(active=True),
        AccountChange(email="kesha@uberpopug.example", full_name="Kesha Popugaev"),
    ],
)
def test_asking_for_what_already_is_changes_nothing_and_says_nothing(change):
    assert domain.change_account(KESHA, change, ADMIN_ID) == (KESHA, [])


def test_every_event_a_change_causes_fits_its_schema():
    for change in (
        AccountChange(role="boss"),
        AccountChange(active=False),
        AccountChange(full_name=""),
    ):
        for event_type, data in domain.change_account(KESHA, change, ADMIN_ID)[1]:
            registry().validate(
                Event(event_type, 1, "/auth", data, time=clock.utcnow()).to_message()
            )


@pytest.mark.parametrize(
    "change, reason",
    [
        (AccountChange(role="manager"), "your own role"),
        (AccountChange(active=False), "your own account"),
    ],
)
def test_an_admin_cannot_demote_or_deactivate_themselves(change, reason):
    admin = Account(ADMIN_ID, "admin", "admin@uberpopug.example", "", "admin", True, 1, NOW)
    with pytest.raises(RuleBroken, match=reason):
        domain.change_account(admin, change, ADMIN_ID)


@pytest.mark.parametrize(
    "change, reason",
    [
        (AccountChange(role="parrot"), "Unknown role"),
        (AccountChange(email="nope"), "email address"),
        (AccountChange(full_name="x" * 201), "at most 200"),
    ],
)
def test_a_change_outside_the_rules_is_refused(change, reason):
    with pytest.raises(RuleBroken, match=reason):
        domain.change_account(KESHA, change, ADMIN_ID)


WINDOW = FailureWindow(max_failures=5, window=timedelta(minutes=10))


def minutes_ago(*minutes):
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_four_recent_failures_still_let_a_client_try():
    assert WINDOW.retry_after(minutes_ago(1, 2, 3, 4), NOW) is None


def test_the_fifth_failure_makes_the_client_wait_until_the_oldest_leaves_the_window():
    assert WINDOW.retry_after(minutes_ago(1, 2, 3, 4, 7), NOW) == timedelta(minutes=3)


def test_failures_older_than_the_window_do_not_count():
    assert WINDOW.retry_after(minutes_ago(1, 2, 3, 4, 10, 11, 30), NOW) is None


def test_with_more_failures_than_the_limit_the_wait_ends_when_only_four_remain():
    # failures at -1..-6 min: the client may try again once -5 min and -6 min have left the window
    assert WINDOW.retry_after(minutes_ago(1, 2, 3, 4, 5, 6), NOW) == timedelta(minutes=5)


def test_the_window_starts_exactly_window_before_now():
    assert WINDOW.since(NOW) == NOW - timedelta(minutes=10)


def test_hamming_distance_counts_differing_bits():
    assert domain.hamming_distance(0b1011, 0b0010) == 2
    assert domain.hamming_distance(2**128 - 1, 0) == 128


@pytest.mark.parametrize(
    "distance, matches",
    [
        (0, True),
        (domain.BEAK_MATCH_DISTANCE, True),
        (domain.BEAK_MATCH_DISTANCE + 1, False),
        (64, False),
    ],
)
def test_beaks_match_up_to_the_threshold_distance(distance, matches):
    registered = 0x0123456789ABCDEF0123456789ABCDEF
    offered = registered ^ (2**distance - 1)
    assert domain.beaks_match(registered, offered) is matches


def test_production_sees_only_the_secrets_that_were_really_set():
    given = load_auth_settings(
        {
            "ATES_ADMIN_PASSWORD": "seven green parrots",
            "ATES_AUTH_ISSUER": "https://sso.test",
            "ATES_GATEWAY_URL": "https://ates.test",
        }
    ).production_values()
    assert given == {
        "ATES_AUTH_ISSUER": "https://sso.test",
        "ATES_GATEWAY_URL": "https://ates.test",
        "ATES_AUTH_SECRET_KEY": None,
        "ATES_ADMIN_PASSWORD": "seven green parrots",
        "ATES_GATEWAY_CLIENT_SECRET": None,
    }


def test_issuer_and_clients_follow_the_contract():
    settings = load_auth_settings(
        {"ATES_AUTH_PORT": "6001", "ATES_GATEWAY_URL": "https://ates.example/"}
    )
    assert settings.issuer == "http://localhost:6001"
    assert {
        client.client_id: (client.secret, client.redirect_uris) for client in settings.clients
    } == {
        "ates-gateway": ("dev-gateway-secret", ("https://ates.example/auth/callback",)),
        "ates-cli": (None, ("http://127.0.0.1:8976/callback",)),
    }
    assert (
        load_auth_settings({"ATES_AUTH_ISSUER": "https://sso.example/"}).issuer
        == "https://sso.example"
    )
    assert load_auth_settings({}).access_token_ttl == 900


@pytest.mark.parametrize(
    "password",
    [
        "12345678",
        "password",
        "Password1",
        "P@ssw0rd",
        "qwertyuiop",
        "iloveyou",
        "drowssap",
        "sunflower",
        "aaaaaaaaaaaa",
        "1" * 200,
    ],
)
def test_a_common_or_trivially_guessed_password_is_refused_with_words(password):
    with pytest.raises(RuleBroken, match="too common"):
        domain.check_password(password)


def test_a_password_that_is_the_username_is_refused():
    with pytest.raises(RuleBroken, match="username"):
        domain.check_password("Kesha.Popugaev", username="kesha.popugaev")


@pytest.mark.parametrize(
    "password",
    ["popug-password-1", "sunflower-seeds", "correct horse", "password-1", "x7#kQ" + "z" * 195],
)
def test_an_uncommon_password_of_8_to_200_characters_passes(password):
    assert domain.check_password(password, username="kesha") == password


@pytest.mark.parametrize(
    "password, problems",
    [
        ("password1234", ["ATES_ADMIN_PASSWORD is a common password"]),
        ("12345678", ["ATES_ADMIN_PASSWORD is a common password"]),
        (
            "seven green parrots",
            [],
        ),  # its length is ates.production's rule (12), checked with the others
    ],
)
def test_a_common_admin_password_is_unfit_for_production(password, problems):
    settings = load_auth_settings(
        {
            "ATES_AUTH_SECRET_KEY": "k" * 40,
            "ATES_ADMIN_PASSWORD": password,
            "ATES_GATEWAY_CLIENT_SECRET": "s" * 40,
        }
    )
    assert settings.admin_password_problems() == problems


@pytest.mark.parametrize(
    "address, client",
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
        ("", "unknown"),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64_network(address, client):
    assert domain.client_network(address) == client


def test_a_failure_counts_for_the_client_and_username_the_client_and_the_username():
    counters = domain.LoginLimits().counters("2001:db8::5", "  Kesha ")
    assert {key: window.max_failures for key, window in counters.items()} == {
        "client+user 2001:db8::/64 kesha": 5,
        "client 2001:db8::/64": 8,
        "user kesha": 10,
    }
    assert domain.LoginLimits().cleared_by_success("2001:db8::5", "kesha") == [
        "client+user 2001:db8::/64 kesha",
        "user kesha",
    ]


def test_the_longest_wait_of_all_counters_decides():
    counters = {"a": FailureWindow(2), "b": FailureWindow(3)}
    assert domain.longest_wait(
        counters, {"a": minutes_ago(1, 9), "b": minutes_ago(2, 3, 4)}, NOW
    ) == timedelta(minutes=6)
    assert domain.longest_wait(counters, {"a": minutes_ago(1)}, NOW) is None
