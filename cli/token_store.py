"""Where `ates login` keeps its tokens: `~/.config/ates/token.json`, readable by its owner only.

`ATES_CONFIG_DIR` moves the folder. `current_access_token` renews an expired token with the refresh token.
"""

import json
import os
import time
from pathlib import Path

from cli.login import LoginFailed, token_request

RENEW_MARGIN = 30  # seconds: a token this close to expiry is renewed before it is handed out


class NotSignedIn(Exception):
    """No usable sign-in is stored."""


def token_path(env=None) -> Path:
    env = os.environ if env is None else env
    folder = (
        env.get("ATES_CONFIG_DIR")
        or Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "ates"
    )
    return Path(folder) / "token.json"


def save(tokens: dict, path: Path) -> None:
    """Write through a private temporary file, so that the tokens are never readable by others, not
    even briefly."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(tokens, file)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise NotSignedIn("not signed in: run `ates login` first") from None
    except ValueError:
        raise NotSignedIn(f"{path} is damaged: run `ates login` again") from None


def current_access_token(path: Path) -> str:
    tokens = load(path)
    if tokens.get("expires_at", 0) - RENEW_MARGIN > time.time():
        return tokens["access_token"]
    if not tokens.get("refresh_token"):
        raise NotSignedIn("the sign-in has expired: run `ates login` again")
    try:
        fresh = token_request(
            tokens["token_endpoint"],
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    except LoginFailed as error:
        raise NotSignedIn(
            f"the sign-in could not be renewed ({error}): run `ates login` again"
        ) from None
    fresh["refresh_token"] = fresh.get("refresh_token") or tokens["refresh_token"]
    save(fresh, path)
    return fresh["access_token"]
