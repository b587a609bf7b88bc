"""Where `ates login` keeps the tokens, and `ates token` handing out a valid one."""

import stat
import time

import pytest

from cli import login as sign_in
from cli import token_store
from cli.main import main
from cli.token_store import NotSignedIn

TOKEN_ENDPOINT = "http://auth.test/oauth/token"


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ATES_CONFIG_DIR", str(tmp_path / "ates"))
    return tmp_path / "ates"


def stored(expires_in: int, refresh_token="the-refresh-token") -> dict:
    return {
        "access_token": "old-access-token",
        "refresh_token": refresh_token,
        "expires_at": int(time.time()) + expires_in,
        "token_endpoint": TOKEN_ENDPOINT,
    }


class FakeTokenEndpoint:
    def __init__(self, status=200, answer=None):
        self.status, self.forms = status, []
        self.answer = answer or {
            "access_token": "new-access-token",
            "expires_in": 900,
            "token_type": "Bearer",
        }

    def __call__(self, url, data, timeout):
        self.forms.append((url, data))
        return type(
            "Answer",
            (),
            {"ok": self.status < 400, "status_code": self.status, "json": lambda _: self.answer},
        )()


def test_tokens_are_written_for_the_owner_only(config_dir):
    path = token_store.token_path()
    assert path == config_dir / "token.json"
    token_store.save(stored(900), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert token_store.load(path)["access_token"] == "old-access-token"


def test_default_place_is_the_users_config_folder(tmp_path):
    assert (
        token_store.token_path({"HOME": "/ignored", "XDG_CONFIG_HOME": str(tmp_path)})
        == tmp_path / "ates" / "token.json"
    )


def test_a_valid_token_is_handed_out_as_it_is(config_dir, monkeypatch):
    endpoint = FakeTokenEndpoint()
    monkeypatch.setattr(sign_in.requests, "post", endpoint)
    token_store.save(stored(900), token_store.token_path())
    assert token_store.current_access_token(token_store.token_path()) == "old-access-token"
    assert endpoint.forms == []


def test_an_expired_token_is_renewed_with_the_refresh_token(config_dir, monkeypatch):
    endpoint = FakeTokenEndpoint()
    monkeypatch.setattr(sign_in.requests, "post", endpoint)
    path = token_store.token_path()
    token_store.save(stored(-10), path)
    assert token_store.current_access_token(path) == "new-access-token"
    assert endpoint.forms == [
        (
            TOKEN_ENDPOINT,
            {
                "grant_type": "refresh_token",
                "refresh_token": "the-refresh-token",
                "client_id": "ates-cli",
            },
        )
    ]
    kept = token_store.load(path)
    assert (
        kept["access_token"] == "new-access-token" and kept["refresh_token"] == "the-refresh-token"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_refused_renewal_asks_to_sign_in_again(config_dir, monkeypatch):
    monkeypatch.setattr(
        sign_in.requests, "post", FakeTokenEndpoint(400, {"error": "invalid_grant"})
    )
    token_store.save(stored(-10), token_store.token_path())
    with pytest.raises(NotSignedIn, match="ates login"):
        token_store.current_access_token(token_store.token_path())


def test_ates_token_prints_the_access_token(config_dir, capsys):
    token_store.save(stored(900), token_store.token_path())
    assert main(["token"]) == 0
    assert capsys.readouterr().out == "old-access-token\n"


def test_ates_token_without_a_sign_in_fails_clearly(config_dir, capsys):
    assert main(["token"]) == 1
    assert "run `ates login` first" in capsys.readouterr().err
