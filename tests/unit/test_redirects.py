"""The one check of where a browser may be sent after a login or a form (ates.redirects), used by
auth's login pages and the gateway's sign-in and forms."""

import pytest

from ates.redirects import MAX_LENGTH, local_path

GOOD = [
    "/",
    "/tasks",
    "/oauth/authorize?client_id=ates-cli&state=x",
    "/tasks?scope=all",
    "/accounting/accounts/5b0c1e7e?date=2026-03-01#log",
    "/oauth/authorize?client_id=ates-cli&state=x&redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback",
    "/tasks?description=two%0Alines",  # an encoded newline in the query is data, not a header
    "/tasks?title=a//b",
    "/a%20b",
    "/caf%C3%A9",
    "/café",
]

BAD = [
    # another host, spelled the way browsers accept it
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>",
    "evil.example",
    "x/y",
    # control characters a browser drops (turning `/<TAB>/x` into `//x`) or that split a header
    "\t",
    "\n",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    "/x\r\nLocation: https://evil.example",
    "/x\x00",
    "/x\x7f",
    "/x\x85",
    " //evil.example",
    # encoded: what a second decoding (a proxy, another redirect) turns into another host
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%09/evil.example",
    "/%0A/evil.example",
    "/%0d%0a/evil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    "/%2525252F/evil.example",
    "%2F%2Fevil.example",
    "/%00",
    # nothing, or nothing we would make
    "",
    None,
    "/" + "a" * MAX_LENGTH,
]


@pytest.mark.parametrize("target", GOOD)
def test_a_local_path_is_followed_as_it_is(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", BAD)
def test_anything_that_could_leave_the_site_is_refused(target):
    assert local_path(target) is None


def test_a_target_that_is_no_string_is_refused():
    assert local_path(["/tasks"]) is None
