"""Signing in as a person would, against the real auth and gateway processes (the Procfile's commands):
through the gateway in a browser session, and with `ates login` on the command line."""

import re
import threading
import time

import pytest
import requests

from ates.tokens import TokenVerifier
from cli import token_store
from cli.main import main as ates
from tests.conftest import eventually
from tests.e2e.system import Forms, csrf_token, running, sign_in_at_auth, submit

ADMIN_PASSWORD = "e2e-admin-password"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """auth and the gateway on free ports, auth's database migrated first; yields their URLs."""
    var_dir = tmp_path_factory.mktemp("sso") / "var"
    with running(["auth", "gateway"], var_dir, ATES_ADMIN_PASSWORD=ADMIN_PASSWORD) as urls:
        yield urls


def sign_in_as_admin(browser, page, password=ADMIN_PASSWORD):
    return sign_in_at_auth(browser, page, "admin", password)


def test_admin_signs_in_through_the_gateway_and_out_again(system):
    browser = requests.Session()
    login_page = browser.get(f"{system['gateway']}/login", timeout=10)
    assert login_page.url.startswith(f"{system['auth']}/"), login_page.url

    home = sign_in_as_admin(browser, login_page)
    assert home.url.rstrip("/") == system["gateway"], (home.url, home.text[:2000])
    assert "admin (admin)" in home.text
    for label in ("My tasks", "All tasks", "Income", "Analytics", "Dead letters"):
        assert label in home.text, label

    signed_out = browser.post(
        f"{system['gateway']}/logout", data={"csrf_token": csrf_token(home.text)}, timeout=10
    )
    if signed_out.url.startswith(system["auth"]):  # auth may ask to confirm signing out
        confirm = next(form for form in Forms(signed_out.text).found if form["method"] == "post")
        signed_out = submit(browser, signed_out, confirm)
    assert "Sign out" not in browser.get(system["gateway"], timeout=10).text
    again = browser.get(f"{system['gateway']}/login", timeout=10)
    assert again.url.startswith(f"{system['auth']}/") and 'name="password"' in again.text, (
        "after signing out, auth asks for the password again"
    )


def test_a_wrong_password_does_not_sign_in(system):
    browser = requests.Session()
    answer = sign_in_as_admin(
        browser, browser.get(f"{system['gateway']}/login", timeout=10), password="wrong"
    )
    assert answer.url.startswith(system["auth"])
    assert "Sign out" not in browser.get(system["gateway"], timeout=10).text


def test_ates_login_on_the_command_line(system, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATES_CONFIG_DIR", str(tmp_path / "ates"))
    outcome = {}
    cli = threading.Thread(
        target=lambda: outcome.update(
            code=ates(["login", "--no-browser", "--issuer", system["auth"]])
        )
    )
    cli.start()
    printed = []

    def authorize_url():
        printed.append(capsys.readouterr().err)
        return re.search(r"http://\S+/oauth/authorize\S+", "".join(printed))

    url = eventually(
        authorize_url, timeout=20, message="`ates login` printing the sign-in address"
    ).group(0)
    browser = requests.Session()
    landing = sign_in_as_admin(browser, browser.get(url, timeout=10))
    cli.join(timeout=30)
    assert outcome.get("code") == 0, (
        landing.url,
        landing.text[:1000],
        "".join(printed),
        capsys.readouterr(),
    )
    assert landing.url.startswith("http://127.0.0.1:8976/callback") and "signed in" in landing.text

    path = token_store.token_path()
    principal = TokenVerifier(system["auth"]).principal(token_store.load(path)["access_token"])
    assert (principal.username, principal.role) == ("admin", "admin")

    expired = {**token_store.load(path), "expires_at": int(time.time()) - 1}
    token_store.save(expired, path)
    capsys.readouterr()
    assert ates(["token"]) == 0
    renewed = capsys.readouterr().out.strip()
    assert renewed != expired["access_token"]
    assert TokenVerifier(system["auth"]).principal(renewed).account_id == principal.account_id
