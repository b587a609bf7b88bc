"""`ates login`: the loopback sign-in of RFC 8252 as the public client `ates-cli`, with PKCE S256.

A one-shot HTTP server on 127.0.0.1:8976 waits for the browser to come back from the SSO with a code.
"""

import base64
import hashlib
import html
import re
import secrets
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

CLIENT_ID = "ates-cli"
PORT = 8976
SCOPE = "openid profile email offline_access ates-api"  # a refresh token; calling the services
TIMEOUT = 10


class LoginFailed(Exception):
    """Signing in did not work; the message says why, for the person at the terminal."""


def redirect_uri(port: int = PORT) -> str:
    return f"http://127.0.0.1:{port}/callback"


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode()
    )


def authorize_url(
    authorization_endpoint: str, challenge: str, state: str, port: int = PORT, scope: str = SCOPE
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri(port),
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{authorization_endpoint}{'&' if '?' in authorization_endpoint else '?'}{query}"


def discover(issuer: str) -> dict:
    try:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise LoginFailed(f"the SSO at {issuer} cannot be reached ({error})") from None


class LoopbackCallback:
    """Listens on the loopback port until the SSO sends the browser back, and checks the state it carries."""

    def __init__(self, expected_state: str, port: int = PORT):
        self.expected_state = expected_state
        self.outcome: str | LoginFailed | None = None
        try:
            self.server = HTTPServer(("127.0.0.1", port), self._handler())
        except OSError as error:
            raise LoginFailed(
                f"cannot listen on 127.0.0.1:{port} for the SSO's answer ({error})"
            ) from None
        self.server.timeout = 0.5
        self.port = self.server.server_address[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.server_close()

    def wait(self, timeout: float = 300) -> str:
        """The authorization code, once the browser arrives; LoginFailed on an error, a wrong state
        or a timeout."""
        deadline = time.monotonic() + timeout
        while self.outcome is None:
            if time.monotonic() > deadline:
                raise LoginFailed(f"no answer from the browser within {timeout:.0f} s")
            self.server.handle_request()
        if isinstance(self.outcome, LoginFailed):
            raise self.outcome
        return self.outcome

    def receive(self, params: dict) -> LoginFailed | str:
        return code_from(params, self.expected_state)

    def _handler(self):
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                if url.path != "/callback":
                    self.send_error(404)
                    return
                callback.outcome = callback.receive(
                    {k: v[0] for k, v in parse_qs(url.query).items()}
                )
                failed = isinstance(callback.outcome, LoginFailed)
                self._answer(
                    400 if failed else 200,
                    f"Sign-in failed: {callback.outcome}"
                    if failed
                    else "You are signed in to aTES. You may close this tab.",
                )

            def _answer(self, status: int, text: str):
                body = f"<!doctype html><title>aTES</title><p>{text}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass  # the terminal is for the person, not for access logs

        return Handler


def code_from(params: dict, expected_state: str) -> LoginFailed | str:
    """The authorization code in the SSO's answer, or why there is none to trust."""
    if params.get("state") != expected_state:
        return LoginFailed("the answer's state does not match this sign-in; it is refused")
    if "error" in params:
        return LoginFailed(f"the SSO refused: {params.get('error_description') or params['error']}")
    if not params.get("code"):
        return LoginFailed("the SSO sent no authorization code")
    return params["code"]


def exchange_code(token_endpoint: str, code: str, verifier: str, port: int = PORT) -> dict:
    """Trade the code for tokens; a public client proves itself with the PKCE verifier, no secret."""
    return token_request(
        token_endpoint,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(port),
            "code_verifier": verifier,
        },
    )


def token_request(token_endpoint: str, form: dict) -> dict:
    try:
        response = requests.post(
            token_endpoint, data={**form, "client_id": CLIENT_ID}, timeout=TIMEOUT
        )
        answer = response.json()
    except (requests.RequestException, ValueError) as error:
        raise LoginFailed(f"the SSO's token endpoint failed ({error})") from None
    if not response.ok or "access_token" not in answer:
        raise LoginFailed(
            f"the SSO refused: {answer.get('error_description') or answer.get('error', response.status_code)}"
        )
    answer["expires_at"] = int(time.time()) + int(answer.get("expires_in", 0))
    answer["token_endpoint"] = token_endpoint
    return answer


def login(
    issuer: str,
    *,
    open_browser: bool = True,
    announce=print,
    port: int = PORT,
    timeout: float = 300,
) -> dict:
    """Run the whole sign-in; returns the SSO's token answer with `expires_at` and `token_endpoint` added."""
    metadata = discover(issuer)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    with LoopbackCallback(state, port) as callback:
        url = authorize_url(metadata["authorization_endpoint"], challenge, state, callback.port)
        if open_browser and webbrowser.open(url):
            announce(f"Your browser opens the sign-in page. If it does not, open:\n{url}")
        else:
            announce(f"Open this address in a browser to sign in:\n{url}")
        code = callback.wait(timeout)
    return exchange_code(metadata["token_endpoint"], code, verifier, callback.port)


def login_with_password(issuer: str, username: str, password: str, scope: str = SCOPE) -> dict:
    """The same authorization-code flow with PKCE, with the SSO's login form filled in by this
    program instead of a person at a browser (for `ates demo` and scripts; the redirect to the
    loopback address is read from the answer, so nothing needs to listen there)."""
    metadata = discover(issuer)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    browser = requests.Session()
    try:
        page = browser.get(
            authorize_url(metadata["authorization_endpoint"], challenge, state, scope=scope),
            timeout=TIMEOUT,
        )
        form = _login_form(page.text)
        if form is None:
            raise LoginFailed(f"the SSO showed no login form at {page.url} ({page.status_code})")
        action, fields = form
        answer = browser.post(
            urljoin(page.url, action),
            allow_redirects=False,
            timeout=TIMEOUT,
            data={**fields, "username": username, "password": password},
        )
        while answer.is_redirect and not answer.headers["Location"].startswith(redirect_uri()):
            answer = browser.get(
                urljoin(answer.url, answer.headers["Location"]),
                allow_redirects=False,
                timeout=TIMEOUT,
            )
    except requests.RequestException as error:
        raise LoginFailed(f"the SSO at {issuer} cannot be reached ({error})") from None
    if not answer.is_redirect:
        raise LoginFailed(
            f"the SSO did not sign {username} in (wrong password, or the account is inactive)"
        )
    params = {
        key: values[0]
        for key, values in parse_qs(urlsplit(answer.headers["Location"]).query).items()
    }
    code = code_from(params, state)
    if isinstance(code, LoginFailed):
        raise code
    return exchange_code(metadata["token_endpoint"], code, verifier)


def _login_form(page: str) -> tuple[str, dict] | None:
    """(action, hidden fields) of the page's form that asks for a password."""
    for form in re.findall(r"<form\b(.*?)>(.*?)</form>", page, flags=re.S | re.I):
        attributes, body = form
        if 'name="password"' not in body:
            continue
        action = re.search(r'action="([^"]*)"', attributes)
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
        return html.unescape(action.group(1)) if action else "", {
            k: html.unescape(v) for k, v in hidden.items()
        }
    return None
