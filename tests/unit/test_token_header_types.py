"""The shared verifier (ates/tokens.py) with a token header whose fields have the wrong JSON type:
refused with words, and an unknown kind of kid does not send it to the SSO for keys."""

import base64
import json
import uuid

import pytest

from ates.tokens import REFETCH_INTERVAL, InvalidToken, TokenVerifier
from tests.issuer import ISSUER, StandInIssuer


def forged(header) -> str:
    part = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{part}.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


BAD_HEADERS = {
    "kid a list": {"alg": "RS256", "typ": "at+jwt", "kid": []},
    "kid an object": {"alg": "RS256", "typ": "at+jwt", "kid": {"x": 1}},
    "kid a number": {"alg": "RS256", "typ": "at+jwt", "kid": 5},
    "kid null": {"alg": "RS256", "typ": "at+jwt", "kid": None},
    "alg a list": {"alg": ["RS256"], "typ": "at+jwt", "kid": "test-key"},
    "typ an object": {"alg": "RS256", "typ": {}, "kid": "test-key"},
    "header a list": ["RS256"],
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_a_header_field_of_the_wrong_type_is_refused_without_asking_the_sso(case):
    issuer, now, fetches = StandInIssuer(), [0.0], []
    serve = issuer.verifier()._http_get
    verifier = TokenVerifier(
        ISSUER,
        http_get=lambda url, timeout=None: fetches.append(url) or serve(url, timeout),
        clock=lambda: now[0],
    )
    verifier.verify(issuer.token(str(uuid.uuid4()), "developer"))  # the keys are known now
    assert len(fetches) == 1
    now[0] += REFETCH_INTERVAL + 1  # an unknown kid could refetch the keys now
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(forged(BAD_HEADERS[case]))
    assert refused.value.reason
    assert len(fetches) == 1, "a kid that is no string cannot be a key the SSO has"
