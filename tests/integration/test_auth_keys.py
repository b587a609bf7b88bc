"""Signing keys in the auth database: made once, rotated without breaking live tokens, retired on purpose."""
import time
import uuid
from pathlib import Path

import pytest

from ates import migrations
from ates.db import make_engine, make_sessions
from auth import keys

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "http://localhost"


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    migrations.upgrade(ROOT / "auth" / "migrations", url)
    return make_sessions(make_engine(url))


def token(key) -> str:
    now = int(time.time())
    return keys.sign(key, {"iss": ISSUER, "sub": str(uuid.uuid4()), "aud": "ates-api", "exp": now + 60, "iat": now,
                           "jti": uuid.uuid4().hex}, typ="at+jwt")


def published_kids(sessions) -> list[str]:
    return [key["kid"] for key in keys.jwks(sessions)["keys"]]


def test_the_first_start_makes_one_key_and_later_starts_none(sessions):
    keys.ensure_signing_key(sessions)
    keys.ensure_signing_key(sessions)
    assert published_kids(sessions) == [keys.signing_key(sessions).kid]


def test_the_jwks_publishes_only_public_halves(sessions):
    keys.ensure_signing_key(sessions)
    (published,) = keys.jwks(sessions)["keys"]
    assert set(published) == {"kty", "n", "e", "kid", "use", "alg"}
    assert (published["kty"], published["use"], published["alg"]) == ("RSA", "sig", "RS256")


def test_after_rotation_the_new_key_signs_and_the_old_still_verifies(sessions):
    keys.ensure_signing_key(sessions)
    old = keys.signing_key(sessions)
    old_token = token(old)
    new_kid = keys.rotate(sessions)
    assert keys.signing_key(sessions).kid == new_kid != old.kid
    assert published_kids(sessions) == [new_kid, old.kid]
    assert keys.verify_access_token(old_token, keys.published_keys(sessions), ISSUER)["iss"] == ISSUER


def test_a_retired_key_is_no_longer_published_and_its_tokens_stop_verifying(sessions):
    keys.ensure_signing_key(sessions)
    old = keys.signing_key(sessions)
    old_token = token(old)
    assert keys.retire(sessions, old.kid) is False  # the signing key cannot be retired
    keys.rotate(sessions)
    assert keys.retire(sessions, old.kid) is True
    assert old.kid not in published_kids(sessions)
    with pytest.raises(keys.InvalidToken, match="unknown key"):
        keys.verify_access_token(old_token, keys.published_keys(sessions), ISSUER)
