"""Auth's RS256 signing keys: kept in its database, the newest active one signs, every key not
retired is published in the JWKS, so rotating (`flask --app auth.app rotate-key`) breaks no live token.

Also the local check of the access tokens auth itself receives (its API and userinfo), with the
checks of docs/sso-contract.md. It stands in for the shared `ates/tokens.py` inside auth.
"""

import functools
import time

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import insert, select, update

from ates import clock
from ates.unit_of_work import UnitOfWork
from auth.models import signing_keys
from auth.settings import ACCESS_TOKEN_AUDIENCE

ALGORITHM = "RS256"
KEY_SIZE = 2048
LEEWAY_SECONDS = 30


class InvalidToken(ValueError):
    """An access token that does not pass; str() says why."""


def new_key() -> RSAKey:
    key = RSAKey.generate_key(KEY_SIZE, private=True)
    key.ensure_kid()  # the RFC 7638 thumbprint
    return key


def add_key(uow: UnitOfWork, key: RSAKey | None = None) -> str:
    """Store a new active key; it signs from now on. Returns its kid."""
    key = key or new_key()
    with uow.begin() as session:
        session.execute(
            insert(signing_keys).values(
                kid=key.kid,
                private_pem=key.as_pem(private=True).decode(),
                created_at=clock.utcnow(),
                active=True,
            )
        )
    return key.kid


def ensure_signing_key(uow: UnitOfWork) -> None:
    """The first start makes the first key; later starts change nothing."""
    with (
        uow.begin() as session
    ):  # BEGIN IMMEDIATE on SQLite: two workers starting do not both add one
        if (
            session.scalar(select(signing_keys.c.kid).where(signing_keys.c.active).limit(1))
            is not None
        ):
            return
        key = new_key()
        session.execute(
            insert(signing_keys).values(
                kid=key.kid,
                private_pem=key.as_pem(private=True).decode(),
                created_at=clock.utcnow(),
                active=True,
            )
        )


def rotate(uow: UnitOfWork) -> str:
    """A new key signs; the old ones stop signing but stay published until retired."""
    key = new_key()
    with uow.begin() as session:
        session.execute(update(signing_keys).where(signing_keys.c.active).values(active=False))
        session.execute(
            insert(signing_keys).values(
                kid=key.kid,
                private_pem=key.as_pem(private=True).decode(),
                created_at=clock.utcnow(),
                active=True,
            )
        )
    return key.kid


def retire(uow: UnitOfWork, kid: str) -> bool:
    """Stop publishing a key that no longer signs; tokens it signed stop verifying."""
    with uow.begin() as session:
        result = session.execute(
            update(signing_keys)
            .where(
                signing_keys.c.kid == kid,
                signing_keys.c.active.is_(False),
                signing_keys.c.retired_at.is_(None),
            )
            .values(retired_at=clock.utcnow())
        )
    return result.rowcount == 1


@functools.lru_cache(maxsize=32)
def _parse(kid: str, pem: str) -> RSAKey:
    # Parsing a private key costs about a millisecond; the PEM of a kid never changes.
    return RSAKey.import_key(pem, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})


def signing_key(uow: UnitOfWork) -> RSAKey:
    with uow.read() as session:
        row = session.execute(
            select(signing_keys.c.kid, signing_keys.c.private_pem)
            .where(signing_keys.c.active)
            .order_by(signing_keys.c.created_at.desc())
            .limit(1)
        ).first()
    if row is None:
        raise RuntimeError("auth has no signing key: run `flask --app auth.app migrate`")
    return _parse(row.kid, row.private_pem)


def published_keys(uow: UnitOfWork) -> list[RSAKey]:
    with uow.read() as session:
        rows = session.execute(
            select(signing_keys.c.kid, signing_keys.c.private_pem)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc())
        ).all()
    return [_parse(row.kid, row.private_pem) for row in rows]


def jwks(uow: UnitOfWork) -> dict:
    """The public half of every published key, as /.well-known/jwks.json serves it."""
    return {"keys": [key.as_dict(private=False) for key in published_keys(uow)]}


def sign(key: RSAKey, claims: dict, typ: str = "JWT") -> str:
    return jwt.encode(
        {"alg": ALGORITHM, "typ": typ, "kid": key.kid}, claims, key, algorithms=[ALGORITHM]
    )


def verify_access_token(
    token: str, keys: list[RSAKey], issuer: str, now: int | None = None
) -> dict:
    """The claims of a valid access token: RS256 only, typ at+jwt, a known kid, iss, aud, exp, sub."""
    by_kid = {key.kid: key for key in keys}
    try:
        header = jws.extract_compact(token.encode()).headers()  # unverified: only to choose the key
    except (JoseError, ValueError) as error:
        raise InvalidToken("not a JWT") from error
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"alg {header.get('alg')!r} is not {ALGORITHM}")
    if header.get("typ") != "at+jwt":
        raise InvalidToken("not an access token (typ is not at+jwt)")
    if (
        not isinstance(header.get("kid"), str) or header["kid"] not in by_kid
    ):  # JSON lets kid be a list: unhashable
        raise InvalidToken("signed by an unknown key")
    try:
        claims = jwt.decode(token, KeySet([by_kid[header["kid"]]]), algorithms=[ALGORITHM]).claims
        jwt.JWTClaimsRegistry(
            now=now or int(time.time()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": ACCESS_TOKEN_AUDIENCE},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(claims)
    except JoseError as error:
        raise InvalidToken(f"{type(error).__name__}: {error}") from error
    return claims
