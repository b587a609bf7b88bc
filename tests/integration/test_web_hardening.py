"""What every web service does with every answer and with hostile input, before any view runs:
the browser-security headers, the body size limit, and JSON bodies that cannot be read (ates/web.py,
ates/json_body.py); and no page relies on inline script or style, which the CSP forbids. Hostile
text (control characters, NUL, token headers) is tests/integration/test_hostile_text.py's."""

import io
import re
from pathlib import Path

import pytest

from ates.config import load_settings
from tests.integration.test_api_fuzz import SERVICES as API_SERVICES

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def gateway_app(var: Path):
    from gateway.app import create_app

    return create_app(load_settings("gateway", {"ATES_VAR_DIR": str(var)})), dict


SERVICES = {**API_SERVICES, "gateway": gateway_app}


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """Every web service once for this module: {name: (app, headers of an admin)}."""
    return {name: make(tmp_path_factory.mktemp(name)) for name, make in SERVICES.items()}


# -- headers ----------------------------------------------------------------------------------------

ANSWERS = [  # (service, method, path): pages, API answers, errors, with and without a token
    ("gateway", "get", "/"),
    ("gateway", "get", "/tasks"),
    ("gateway", "get", "/no-such-page"),
    ("gateway", "get", "/healthz"),
    ("gateway", "post", "/tasks"),
    ("auth", "get", "/login"),
    ("auth", "get", "/signup"),
    ("auth", "get", "/api/accounts"),
    ("auth", "get", "/.well-known/openid-configuration"),
    ("auth", "get", "/oauth/authorize"),
    ("tracker", "get", "/api/tasks"),
    ("tracker", "post", "/api/tasks"),
    ("tracker", "get", "/openapi.json"),
    ("accounting", "get", "/api/me/account"),
    ("accounting", "get", "/healthz"),
    ("analytics", "get", "/api/summary"),
    ("analytics", "get", "/metrics"),
]


@pytest.mark.parametrize("service, method, path", ANSWERS)
@pytest.mark.parametrize("signed_in", [False, True])
def test_every_answer_carries_the_browser_security_headers(
    services, service, method, path, signed_in
):
    app, headers = services[service]
    answer = getattr(app.test_client(), method)(path, headers=headers() if signed_in else {})
    csp = dict(
        directive.strip().split(" ", 1)
        for directive in answer.headers.get("Content-Security-Policy", "").split(";")
        if directive.strip()
    )
    assert csp.get("script-src") == "'self'", answer.headers
    assert csp.get("style-src") == "'self'" and csp.get("frame-ancestors") == "'none'", csp
    assert csp.get("default-src") == "'self'" and csp.get("object-src") == "'none'", csp
    assert answer.headers.get("X-Frame-Options") == "DENY"
    assert answer.headers.get("X-Content-Type-Options") == "nosniff"
    assert answer.headers.get("Referrer-Policy") == "same-origin"


INLINE = {
    "a <script> without src": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "an on…= event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style= attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}
TEMPLATES = sorted(
    path.relative_to(ROOT)
    for service in ("auth", "gateway")
    for path in (ROOT / service / "templates").rglob("*.html")
)


@pytest.mark.parametrize("template", TEMPLATES, ids=str)
def test_no_template_needs_what_the_policy_forbids(template):
    text = (ROOT / template).read_text()
    found = [what for what, pattern in INLINE.items() if pattern.search(text)]
    assert not found, (
        f"{template} has {', '.join(found)}: the CSP blocks it; use a file under static/"
    )


@pytest.mark.parametrize(
    "service, stylesheet", [("gateway", "/static/gateway.css"), ("auth", "/static/auth.css")]
)
def test_pages_load_their_style_from_the_service_itself(services, service, stylesheet):
    app, _ = services[service]
    client = app.test_client()
    page = client.get("/login" if service == "auth" else "/")
    assert f'href="{stylesheet}"' in page.text
    answer = client.get(stylesheet)
    assert answer.status_code == 200 and answer.content_type.startswith("text/css")


# -- body size --------------------------------------------------------------------------------------

PAGES = ("/signup", "/tasks")
TOO_LARGE = [  # a body over the 1 MiB default, where each service takes a body
    ("tracker", "post", "/api/tasks"),
    ("auth", "post", "/api/accounts"),
    ("auth", "post", "/signup"),
    ("auth", "post", "/oauth/token"),
    ("accounting", "post", "/api/billing-days/2026-01-01/close"),
    ("analytics", "get", "/api/summary"),
    ("gateway", "post", "/tasks"),
]


@pytest.mark.parametrize("service, method, path", TOO_LARGE)
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_body_over_the_limit_is_refused_with_413_before_anything_reads_it(
    services, service, method, path, signed_in
):
    app, headers = services[service]
    body = b'{"title": "' + b"x" * (MIB + 10) + b'"}'
    answer = getattr(app.test_client(), method)(
        path,
        data=body,
        headers={"Content-Type": "application/json", **(headers() if signed_in else {})},
    )
    assert answer.status_code == 413, answer.text[:300]
    if path in PAGES:  # a person gets a page that says it
        assert "1 MiB" in answer.text and answer.content_type.startswith("text/html")
    else:
        assert (
            answer.json["error"] == "request_entity_too_large" and "1 MiB" in answer.json["message"]
        )


def test_the_limit_is_configurable(tmp_path):
    from tracker.app import create_app

    app = create_app(
        load_settings("tracker", {"ATES_VAR_DIR": str(tmp_path), "ATES_MAX_REQUEST_BYTES": "2048"})
    )
    assert app.test_client().post("/api/tasks", data=b"x" * 2049).status_code == 413
    assert app.test_client().post("/api/tasks", data=b"x" * 2048).status_code == 401


def test_a_beak_photo_may_be_larger_than_other_bodies(services):
    """Auth's beak pages take a photo of up to 5 MB (auth/beak.py); the rest of auth keeps the default."""
    app, _ = services["auth"]
    photo = b"\xff\xd8" + b"\x00" * (4 * MIB)
    answer = app.test_client().post(
        "/login/beak", data={"username": "kesha", "photo": (io.BytesIO(photo), "beak.jpg")}
    )
    assert answer.status_code != 413, answer.text[:300]


# -- unreadable JSON --------------------------------------------------------------------------------

JSON_ENDPOINTS = [
    ("tracker", "post", "/api/tasks"),
    ("auth", "post", "/api/accounts"),
    ("auth", "patch", "/api/accounts/{admin}"),
]
UNREADABLE = {
    "100,000 [": (b"[" * 100_000, "nested"),
    "100,000 { in a field": (b'{"title": ' + b'{"a": ' * 100_000, "nested"),
    "a parseable 200 levels": (b'{"title": ' + b"[" * 200 + b"]" * 200 + b"}", "nested"),
    "a lone surrogate in a value": (
        b'{"title": "Feed \\ud800 parrots", "username": "k\\udfffsha", "full_name": "\\udc00"}',
        "surrogate",
    ),
    "a lone surrogate in a name": (b'{"\\ud83d": "x"}', "surrogate"),
    "not UTF-8": (b'{"title": "\xff\xfe"}', "JSON"),
    "not JSON": (b"{title: 1}", "JSON"),
}


@pytest.mark.parametrize("service, method, path", JSON_ENDPOINTS)
@pytest.mark.parametrize("case", list(UNREADABLE))
def test_an_unreadable_json_body_is_a_400_that_says_why(services, service, method, path, case):
    app, headers = services[service]
    body, said = UNREADABLE[case]
    if "{admin}" in path:
        from auth import service as accounts

        path = path.format(
            admin=next(
                account.account_id
                for account in accounts.list_accounts(app.extensions["ates.uow"])
                if account.username == "admin"
            )
        )
    answer = getattr(app.test_client(), method)(
        path, data=body, headers={"Content-Type": "application/json", **headers()}
    )
    assert answer.status_code == 400, answer.text[:300]
    assert said.lower() in answer.json["message"].lower(), answer.json


def test_a_surrogate_password_is_a_400_not_a_crash(services):
    app, headers = services["auth"]
    answer = app.test_client().post(
        "/api/accounts",
        headers={"Content-Type": "application/json", **headers()},
        data=b'{"username": "kesha", "password": "correct \\ud800 horse", '
        b'"email": "kesha@uberpopug.example"}',
    )
    assert answer.status_code == 400 and "surrogate" in answer.json["message"], answer.text


def test_a_body_without_a_declared_length_is_cut_off_at_the_limit_too(services):
    """Chunked: no Content-Length to refuse by, so werkzeug stops reading at the limit; same words."""
    app, headers = services["tracker"]
    body = b'{"title": "' + b"x" * (2 * MIB) + b'"}'
    answer = app.test_client().post(
        "/api/tasks",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **headers()},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 413 and "1 MiB" in answer.json["message"], answer.text[:300]
