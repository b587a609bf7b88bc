"""How auth slows down password guessing (auth/README.md, "Failed logins"): failures are counted per
client network across usernames (password spraying), per username across networks (one account
attacked from many addresses) and per both; successes never count. The counters live in auth's
database, so every auth process sees the same ones."""

import html
import re
from pathlib import Path

import pytest

from ates import migrations
from ates.config import load_settings
from auth import service
from auth.app import create_app
from auth.settings import load_auth_settings
from tests.integration.test_auth_pages import csrf_token

ROOT = Path(__file__).resolve().parents[2]
TOO_MANY = "Too many failed logins. Try again in 10 minutes."


def make_app(var: Path):
    env = {"ATES_VAR_DIR": str(var), "ATES_AUTH_ISSUER": "http://localhost"}
    migrations.upgrade(ROOT / "auth" / "migrations", f"sqlite:///{var / 'auth.db'}")
    return create_app(load_settings("auth", env), load_auth_settings(env))


@pytest.fixture
def var(tmp_path):
    return tmp_path


@pytest.fixture
def app(var):
    return make_app(var)


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def log_in(client, username: str, password: str):
    return client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "username": username,
            "password": password,
        },
    )


def popug(app, username: str) -> str:
    service.create_account(
        app.extensions["ates.uow"], username, "sunflower-seeds", f"{username}@uberpopug.example"
    )
    return username


def test_spraying_many_usernames_from_one_address_gets_429_with_words(app):
    kesha = popug(app, "kesha")
    sprayer = from_address(app, "203.0.113.7")
    answers = [log_in(sprayer, f"victim-{number}", "12345678").status_code for number in range(10)]
    assert answers[:8] == [200] * 8 and 429 in answers  # the 9th failure from one address waits
    refused = log_in(sprayer, kesha, "sunflower-seeds")  # even the right password of another popug
    assert refused.status_code == 429 and TOO_MANY in refused.text
    assert 500 < int(refused.headers["Retry-After"]) <= 600
    assert log_in(from_address(app, "198.51.100.1"), kesha, "sunflower-seeds").status_code == 302


def test_an_ipv6_client_is_counted_by_its_64_bit_network(app):
    kesha = popug(app, "kesha")
    for host in range(8):  # a /64 is one subscriber: changing the last bits is not a new client
        answer = log_in(
            from_address(app, f"2001:db8:1:2::{host + 1:x}"), f"victim-{host}", "nope-nope"
        )
        assert answer.status_code == 200
    assert (
        log_in(from_address(app, "2001:db8:1:2::99"), kesha, "sunflower-seeds").status_code == 429
    )
    assert log_in(from_address(app, "2001:db8:1:3::1"), kesha, "sunflower-seeds").status_code == 302


def test_guessing_one_account_from_many_addresses_gets_429_even_with_the_right_password(app):
    kesha, rio = popug(app, "kesha"), popug(app, "rio")
    for number in range(10):
        assert (
            log_in(
                from_address(app, f"192.0.2.{number + 1}"), "Kesha", "wrong-password"
            ).status_code
            == 200
        )
    refused = log_in(from_address(app, "192.0.2.200"), kesha, "sunflower-seeds")
    assert refused.status_code == 429 and TOO_MANY in refused.text
    assert log_in(from_address(app, "192.0.2.200"), rio, "sunflower-seeds").status_code == 302


def test_an_unknown_username_is_counted_and_answered_like_a_known_one(app):
    popug(app, "kesha")
    answers = {}
    for username in ("kesha", "nobody"):
        for number in range(10):
            log_in(from_address(app, f"192.0.2.{number + 1}"), username, "wrong-password")
        refused = log_in(from_address(app, "192.0.2.250"), username, "wrong-password")
        assert (
            590 < int(refused.headers["Retry-After"]) <= 600
        )  # both counted from their own first failure
        answers[username] = normalized(refused, username)
    assert answers["kesha"] == answers["nobody"]
    assert answers["kesha"][0] == 429 and TOO_MANY in answers["kesha"][1]


def test_successful_sign_ins_from_one_address_never_throttle_it(app):
    usernames = [popug(app, f"popug-{number}") for number in range(30)]
    office = from_address(app, "10.1.1.1")
    assert [log_in(office, username, "sunflower-seeds").status_code for username in usernames] == [
        302
    ] * 30
    for number in range(7):  # and they do not use up the failures the address may still have
        assert log_in(office, f"typo-{number}", "wrong-password").status_code == 200
    assert log_in(office, usernames[0], "sunflower-seeds").status_code == 302


def test_the_counters_are_shared_by_every_auth_process(app, var):
    kesha = popug(app, "kesha")
    other_process = make_app(
        var
    )  # another create_app on the same database, as another gunicorn worker
    for number in range(4):
        log_in(from_address(app, "203.0.113.9"), f"victim-{number}", "wrong-password")
        log_in(from_address(other_process, "203.0.113.9"), f"victim-{number + 4}", "wrong-password")
    assert log_in(from_address(app, "203.0.113.9"), kesha, "sunflower-seeds").status_code == 429
    assert (
        log_in(from_address(other_process, "203.0.113.9"), kesha, "sunflower-seeds").status_code
        == 429
    )


# --- sign-up: what it may tell a stranger --------------------------------------------------------


def sign_up(client, username: str, email: str, password: str = "sunflower-seeds"):
    return client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(client, "/signup"),
            "username": username,
            "password": password,
            "email": email,
            "full_name": "",
        },
    )


def normalized(response, username: str) -> tuple[int, str]:
    page = re.sub(
        r'name="csrf_token" value="[^"]+"',
        'name="csrf_token" value="TOKEN"',
        html.unescape(response.text),
    )
    for shown in (
        f"'{username}'",
        f'value="{username}"',
    ):  # the message and the form, which echo it
        page = page.replace(shown, shown.replace(username, "USERNAME"))
    return response.status_code, page


def test_a_taken_username_gets_the_same_answer_whoever_holds_it(app):
    uow = app.extensions["ates.uow"]
    active = popug(app, "kesha")
    gone = service.create_account(uow, "gone", "sunflower-seeds", "gone@uberpopug.example")
    admin = next(account for account in service.list_accounts(uow) if account.username == "admin")
    service.deactivate_account(uow, gone.account_id, admin.account_id)
    answers = {
        username: normalized(
            sign_up(from_address(app, "192.0.2.1"), username, "new@uberpopug.example"), username
        )
        for username in (active, "gone", "admin")
    }
    assert answers[active] == answers["gone"] == answers["admin"]
    assert answers[active][0] == 400 and "The username 'USERNAME' is taken." in answers[active][1]


def test_an_email_already_in_use_is_not_confirmed_sign_up_answers_as_for_a_new_one(app):
    popug(app, "kesha")
    reused = sign_up(from_address(app, "192.0.2.1"), "rio", "kesha@uberpopug.example")
    fresh = sign_up(from_address(app, "192.0.2.2"), "blu", "blu@uberpopug.example")
    assert (
        (reused.status_code, reused.headers["Location"])
        == (fresh.status_code, fresh.headers["Location"])
        == (302, "/")
    )


def test_probing_usernames_through_sign_up_counts_toward_the_address_limit(app):
    for username in ("admin", "kesha", "rio", "blu"):
        popug(app, username) if username != "admin" else None
    prober = from_address(app, "203.0.113.50")
    answers = [
        sign_up(prober, username, "p@uberpopug.example").status_code
        for username in ("admin", "kesha", "rio", "blu") * 2
    ]
    assert answers == [400] * 8  # each "taken" is a failure of this address
    refused = sign_up(prober, "someone-new", "p@uberpopug.example")
    assert refused.status_code == 429 and TOO_MANY in refused.text
    assert (
        log_in(prober, "kesha", "sunflower-seeds").status_code == 429
    )  # the same counter as logins
    assert (
        sign_up(from_address(app, "198.51.100.9"), "someone-new", "p@uberpopug.example").status_code
        == 302
    )
