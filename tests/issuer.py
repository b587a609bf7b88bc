"""A stand-in SSO for API tests at the unit and integration level: signs access tokens with a key
made here and serves its JWKS to `ates.tokens.TokenVerifier` without a network.
The end-to-end tests use the real auth service instead."""

import time
import uuid

from joserfc import jwt
from joserfc.jwk import RSAKey

from ates.tokens import TokenVerifier

ISSUER = "http://sso.test"


class StandInIssuer:
    def __init__(self):
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"}
        )

    def token(
        self, account_id: str, role: str, expires_in: int = 900, jti: str | None = None
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": account_id,
            "aud": "ates-api",
            "iat": now,
            "exp": now + expires_in,
            "jti": jti or str(uuid.uuid4()),
            "client_id": "ates-gateway",
            "scope": "openid ates-api",
            "role": role,
            "preferred_username": f"popug-{account_id[:6]}",
        }
        return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "test-key"}, claims, self.key)

    def headers(self, account_id: str, role: str) -> dict:
        return {"Authorization": f"Bearer {self.token(account_id, role)}"}

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(ISSUER, http_get=self._serve_jwks)

    def _serve_jwks(self, url, timeout=None):
        key = self.key

        class Response:
            def raise_for_status(self):
                pass

            def json(self):
                return {"keys": [key.as_dict(private=False)]}

        return Response()
