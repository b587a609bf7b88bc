"""Signing keys in the auth database: made once, rotated without breaking live tokens, retired on purpose."""

import time
import uuid
from pathlib import Path

import pytest

from ates import migrations
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from auth import keys

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "http://localhost"


@pytest.fixture
def uow(tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    migrations.upgrade(ROOT / "auth" / "migrations", url)
    return UnitOfWork(make_engine(url))


def token(key) -> str:
    now = int(time.time())
    return keys.sign(
        key,
        {
            "iss": ISSUER,
            "sub": str(uuid.uuid4()),
            "aud": "ates-api",
            "exp": now + 60,
            "iat": now,
            "jti": uuid.uuid4().hex,
        },
        typ="at+jwt",
    )


def published_kids(uow) -> list[str]:
    return [key["kid"] for key in keys.jwks(uow)["keys"]]


def test_the_first_start_makes_one_key_and_later_starts_none(uow):
    keys.ensure_signing_key(uow)
    keys.ensure_signing_key(uow)
    assert published_kids(uow) == [keys.signing_key(uow).kid]


def test_the_jwks_publishes_only_public_halves(uow):
    keys.ensure_signing_key(uow)
    (published,) = keys.jwks(uow)["keys"]
    assert set(published) == {"kty", "n", "e", "kid", "use", "alg"}
    assert (published["kty"], published["use"], published["alg"]) == ("RSA", "sig", "RS256")


def test_after_rotation_the_new_key_signs_and_the_old_still_verifies(uow):
    keys.ensure_signing_key(uow)
    old = keys.signing_key(uow)
    old_token = token(old)
    new_kid = keys.rotate(uow)
    assert keys.signing_key(uow).kid == new_kid != old.kid
    assert published_kids(uow) == [new_kid, old.kid]
    assert keys.verify_access_token(old_token, keys.published_keys(uow), ISSUER)["iss"] == ISSUER


def test_a_retired_key_is_no_longer_published_and_its_tokens_stop_verifying(uow):
    keys.ensure_signing_key(uow)
    old = keys.signing_key(uow)
    old_token = token(old)
    assert keys.retire(uow, old.kid) is False  # the signing key cannot be retired
    keys.rotate(uow)
    assert keys.retire(uow, old.kid) is True
    assert old.kid not in published_kids(uow)
    with pytest.raises(keys.InvalidToken, match="unknown key"):
        keys.verify_access_token(old_token, keys.published_keys(uow), ISSUER)
