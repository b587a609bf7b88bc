"""The OpenID Connect provider, on authlib: the authorization code grant with PKCE S256 required
for every client, refresh tokens (rotated on every use), RS256 JWT access tokens (RFC 9068) and id
tokens, revocation. No implicit, password or client-credentials grant is registered.

The claims are docs/sso-contract.md's. Storage is auth/oauth_store.py; keys are auth/keys.py.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from flask import Flask, current_app, g, session

from ates.web import unit_of_work
from auth import keys, oauth_store, service
from auth.keys import InvalidToken
from auth.oauth_store import AuthorizationCode, IssuedAccessToken, RefreshToken
from auth.settings import ACCESS_TOKEN_AUDIENCE, OFFLINE_ACCESS, SCOPES, AuthSettings

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def _settings() -> AuthSettings:
    return current_app.extensions["auth.settings"]


def _key():
    # One key per request: the id token and the access token of one answer carry the same kid.
    if "signing_key" not in g:
        g.signing_key = keys.signing_key(unit_of_work())
    return g.signing_key


class PkceS256Required(CodeChallenge):
    """PKCE for every client, confidential ones too, and only S256: a `plain` challenge is refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256."
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted.")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def generate_token(
        self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True
    ):
        # OIDC core §11: a refresh token is what `offline_access` asks for; a client that did not
        # ask gets none.
        include_refresh_token = include_refresh_token and OFFLINE_ACCESS in (scope or "").split()
        return super().generate_token(user, scope, grant_type, expires_in, include_refresh_token)

    def save_authorization_code(self, code, request):
        data = request.payload.data
        grant = AuthorizationCode(
            family_id=oauth_store.new_family_id(),
            client_id=request.client.client_id,
            account_id=request.user.account_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            auth_time=int(session.get("auth_time") or time.time()),
        )
        oauth_store.save_code(unit_of_work(), code, grant, _settings().authorization_code_ttl)

    def query_authorization_code(self, code, client):
        return oauth_store.claim_code(unit_of_work(), code, client.client_id)

    def delete_authorization_code(self, authorization_code):
        pass  # claim_code used it up already

    def authenticate_user(self, authorization_code):
        return service.get_active_account(unit_of_work(), authorization_code.account_id)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh token works once

    def authenticate_refresh_token(self, refresh_token):
        return oauth_store.rotate_refresh_token(
            unit_of_work(), refresh_token, self.request.client.client_id
        )

    def authenticate_user(self, refresh_token):
        return service.get_active_account(unit_of_work(), refresh_token.account_id)

    def revoke_old_credential(self, refresh_token):
        pass  # rotate_refresh_token used it up already


class IdTokens(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return oauth_store.nonce_used(unit_of_work(), request.payload.client_id, nonce)

    def resolve_client_private_key(self, client):
        return _key()

    def get_client_algorithm(self, client):
        return keys.ALGORITHM

    def get_encode_header(self, client):
        return {"alg": keys.ALGORITHM, "kid": _key().kid}

    def get_client_claims(self, client):
        return {"iss": _settings().issuer, "aud": client.client_id}

    def generate_user_info(self, user, scope):
        return user_info(user)


def user_info(account) -> dict:
    return {
        "sub": account.account_id,
        "preferred_username": account.username,
        "email": account.email,
        "name": account.full_name,
        "role": account.role,
    }


def _access_token(client, grant_type, user, scope) -> str:
    now = int(time.time())
    claims = {
        "iss": _settings().issuer,
        "sub": user.account_id,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "exp": now + _settings().access_token_ttl,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": client.client_id,
        "scope": scope,
        "role": user.role,
        "preferred_username": user.username,
    }
    # _save_token records it with the refresh token of the same answer, to announce it if the family
    # is revoked
    g.issued_access_token = IssuedAccessToken(
        claims["jti"], datetime.fromtimestamp(claims["exp"], UTC)
    )
    return keys.sign(_key(), claims, typ="at+jwt")


def _save_token(token, request):
    if not token.get("refresh_token"):
        return
    if request.refresh_token:  # a rotation: same family, same deadline
        family_id, deadline = (
            request.refresh_token.family_id,
            request.refresh_token.family_expires_at,
        )
    else:  # a sign-in: its family's deadline starts now
        family_id = request.authorization_code.family_id
        deadline = oauth_store.family_deadline(_settings().refresh_family_lifetime)
    grant = RefreshToken(
        family_id, request.client.client_id, request.user.account_id, token["scope"], deadline
    )
    oauth_store.save_refresh_token(
        unit_of_work(),
        token["refresh_token"],
        grant,
        _settings().refresh_token_ttl,
        g.get("issued_access_token"),
    )


@dataclass(frozen=True)
class AccessTokenSeen:
    """An access token handed in for revocation: its jti is refused by auth from then on."""

    jti: str
    client_id: str
    account_id: str
    expires_at: datetime

    def check_client(self, client):
        return self.client_id == client.get_client_id()


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        if token_type_hint != "refresh_token" and token_string.count(".") == 2:
            try:
                claims = keys.verify_access_token(
                    token_string, keys.published_keys(unit_of_work()), _settings().issuer
                )
            except InvalidToken:
                return (
                    None  # expired or not ours: nothing to revoke (RFC 7009 §2.2 still answers 200)
                )
            if not claims.get("jti"):
                return None  # not one auth signed (each of ours has a jti): nothing to revoke
            expires_at = datetime.fromtimestamp(claims["exp"], UTC)
            return AccessTokenSeen(
                claims["jti"], claims.get("client_id", ""), claims["sub"], expires_at
            )
        return oauth_store.find_refresh_token(unit_of_work(), token_string)

    def revoke_token(self, token, request):
        if isinstance(token, AccessTokenSeen):
            oauth_store.revoke_access_token(
                unit_of_work(), token.jti, token.account_id, token.expires_at
            )
        else:
            oauth_store.revoke_family(unit_of_work(), token.family_id)


def create_provider(app: Flask) -> AuthorizationServer:
    app.config["OAUTH2_SCOPES_SUPPORTED"] = list(SCOPES)
    server = AuthorizationServer(
        app,
        query_client=lambda client_id: oauth_store.find_client(unit_of_work(), client_id),
        save_token=_save_token,
    )
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            _access_token,
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: _settings().access_token_ttl,
        ),
    )
    server.register_grant(
        CodeGrant, [PkceS256Required(required=True), IdTokens(require_nonce=False)]
    )
    server.register_grant(RefreshGrant)
    server.register_endpoint(Revocation)
    return server
