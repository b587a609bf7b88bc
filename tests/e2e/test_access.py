"""Who may call what (SPEC §3), as one table of every endpoint of SPEC §8 × every role, plus no
token, an expired token, a token of a deactivated account, a revoked token, a demoted account's
old token and a gateway cookie replayed after sign-out — against the real processes, with tokens
from the real SSO's authorization-code flow."""

import time
import uuid

import pytest
import requests
from sqlalchemy import select

from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from auth import keys
from auth.models import accounts
from cli.login import login_with_password
from tests.conftest import eventually
from tests.e2e.system import (
    SERVICES_AND_WORKERS,
    bearer,
    csrf_token,
    running,
    sign_in_at_auth,
    sign_in_for_tokens,
)

ADMIN_PASSWORD = "access-admin-password"
PASSWORD = "access-password-1"
ROLES = ("admin", "manager", "accountant", "boss", "developer")
EVERYONE = set(ROLES)
PROCESSES = [*SERVICES_AND_WORKERS, "gateway"]
SOMEONE = str(uuid.uuid4())  # an id nobody has: allowed callers get a 404, never a 401 or 403

# service, method, path, JSON body, who may (SPEC §3)
TABLE = [
    ("auth", "GET", "/api/accounts", None, {"admin"}),
    ("auth", "POST", "/api/accounts", {}, {"admin"}),
    ("auth", "PATCH", f"/api/accounts/{SOMEONE}", {"full_name": "X"}, {"admin"}),
    ("auth", "DELETE", f"/api/accounts/{SOMEONE}", None, {"admin"}),
    ("tracker", "POST", "/api/tasks", {"title": "Sort the seeds", "description": ""}, EVERYONE),
    ("tracker", "GET", "/api/tasks?scope=mine", None, EVERYONE),
    ("tracker", "GET", "/api/tasks?scope=all", None, {"admin", "manager"}),
    ("tracker", "GET", f"/api/tasks/{SOMEONE}", None, EVERYONE),
    ("tracker", "POST", f"/api/tasks/{SOMEONE}/complete", None, EVERYONE),
    ("tracker", "POST", "/api/reassignments", None, {"admin", "manager"}),
    ("tracker", "GET", f"/api/reassignments/{SOMEONE}", None, {"admin", "manager"}),
    ("accounting", "GET", "/api/me/account", None, EVERYONE),
    ("accounting", "GET", "/api/me/transactions", None, EVERYONE),
    ("accounting", "GET", "/api/accounts", None, {"admin", "accountant"}),
    ("accounting", "GET", f"/api/accounts/{SOMEONE}/transactions", None, {"admin", "accountant"}),
    ("accounting", "GET", "/api/income", None, {"admin", "accountant"}),
    (
        "accounting",
        "GET",
        "/api/billing-days/current",
        None,
        {"admin", "accountant"},
    ),  # its management income
    (
        "accounting",
        "POST",
        "/api/billing-days/2099-01-01/close",
        None,
        {"admin", "accountant"},
    ),  # 409: not open yet
    ("analytics", "GET", "/api/summary", None, {"admin"}),
    ("analytics", "GET", "/api/most-expensive-task?period=week", None, {"admin"}),
    ("analytics", "GET", "/api/income?period=month", None, {"admin"}),
]


@pytest.fixture(scope="module")
def system(tmp_path_factory, broker_for_module):
    var_dir = tmp_path_factory.mktemp("access") / "var"
    with running(
        PROCESSES,
        var_dir,
        broker_for_module,
        ATES_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ATES_RETRY_DELAYS_MS="200,500,1000,2000",
    ) as urls:
        admin = sign_in_for_tokens(urls["auth"], "admin", ADMIN_PASSWORD)
        headers = dict.fromkeys(ROLES)
        headers["admin"] = bearer(admin)
        for role in ROLES[1:] + ("admin",):
            username = f"{role}-popug" if role != "admin" else "second-admin"
            created = requests.post(
                f"{urls['auth']}/api/accounts",
                headers=bearer(admin),
                timeout=10,
                json={
                    "username": username,
                    "password": PASSWORD,
                    "email": f"{username}@uberpopug.example",
                    "full_name": username,
                    "role": role,
                },
            )
            assert created.status_code == 201, created.text
            tokens = bearer(sign_in_for_tokens(urls["auth"], username, PASSWORD))
            if role == "admin":
                deactivated = (created.json()["account_id"], tokens)
            else:
                headers[role] = tokens
        yield urls, headers, deactivated, var_dir


def call(urls, service, method, path, body, headers):
    return requests.request(
        method, f"{urls[service]}{path}", json=body, headers=headers or {}, timeout=10
    )


def expired_token(var_dir, auth_url: str) -> dict:
    """Signed with auth's real key (read from auth's database), for the real admin, but long expired."""
    uow = UnitOfWork(make_engine(f"sqlite:///{var_dir / 'auth.db'}"))
    with uow.read() as session:
        admin_id = session.scalar(
            select(accounts.c.account_id).where(accounts.c.username == "admin")
        )
    issuer = requests.get(f"{auth_url}/.well-known/openid-configuration", timeout=10).json()[
        "issuer"
    ]
    then = int(time.time()) - 7200
    claims = {
        "iss": issuer,
        "sub": admin_id,
        "aud": "ates-api",
        "iat": then,
        "exp": then + 900,
        "jti": uuid.uuid4().hex,
        "client_id": "ates-cli",
        "scope": "openid ates-api",
        "role": "admin",
        "preferred_username": "admin",
    }
    return {"Authorization": f"Bearer {keys.sign(keys.signing_key(uow), claims, typ='at+jwt')}"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "service, method, path, body, allowed",
    TABLE,
    ids=[f"{method} {service}{path.split('?')[0]}" for service, method, path, _, _ in TABLE],
)
def test_each_role_gets_what_spec_section_3_gives_it(
    system, role, service, method, path, body, allowed
):
    urls, headers, _, _ = system
    answer = call(urls, service, method, path, body, headers[role])
    if role in allowed:
        assert answer.status_code not in (401, 403), (role, answer.status_code, answer.text)
        assert answer.status_code < 500, answer.text
    else:
        assert answer.status_code == 403, (role, answer.status_code, answer.text)
        assert answer.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "service, method, path, body, allowed",
    TABLE,
    ids=[f"{method} {service}{path.split('?')[0]}" for service, method, path, _, _ in TABLE],
)
def test_no_token_and_an_expired_token_are_refused(system, service, method, path, body, allowed):
    urls, _, _, var_dir = system
    assert call(urls, service, method, path, body, None).status_code == 401
    assert (
        call(urls, service, method, path, body, expired_token(var_dir, urls["auth"])).status_code
        == 401
    )


def test_a_token_not_granted_the_api_scope_is_refused_everywhere_with_insufficient_scope(system):
    urls = system[0]
    signed_in_only = bearer(
        login_with_password(urls["auth"], "admin", ADMIN_PASSWORD, scope="openid profile email")
    )
    for (
        service,
        method,
        path,
        body,
        _,
    ) in TABLE:  # the admin may call every one of them, with the scope
        answer = call(urls, service, method, path, body, signed_in_only)
        assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope", (
            service,
            path,
            answer.status_code,
            answer.text,
        )
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_a_deactivated_accounts_token_is_refused_everywhere(system):
    urls, headers, (account_id, tokens), _ = system
    assert call(urls, "analytics", "GET", "/api/summary", None, tokens).status_code == 200, (
        "valid before"
    )
    gone = requests.delete(
        f"{urls['auth']}/api/accounts/{account_id}", headers=headers["admin"], timeout=10
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
    for service, method, path, body, _ in TABLE:
        eventually(
            lambda: call(urls, service, method, path, body, tokens).status_code == 401,
            timeout=30,
            message=f"{method} {service}{path} to refuse the deactivated admin",
        )


def new_popug(urls, headers, role: str) -> tuple[str, dict]:
    """A new account of the role, signed in through the real SSO: its id and its tokens."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    created = requests.post(
        f"{urls['auth']}/api/accounts",
        headers=headers["admin"],
        timeout=10,
        json={
            "username": username,
            "password": PASSWORD,
            "email": f"{username}@uberpopug.example",
            "full_name": username,
            "role": role,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["account_id"], sign_in_for_tokens(urls["auth"], username, PASSWORD)


def revoke_at_auth(urls, token: str, hint: str) -> None:
    answer = requests.post(
        f"{urls['auth']}/oauth/revoke",
        timeout=10,
        data={"token": token, "token_type_hint": hint, "client_id": "ates-cli"},
    )
    assert answer.status_code == 200, answer.text


MINE = [("tracker", "GET", "/api/tasks?scope=mine"), ("accounting", "GET", "/api/me/account")]


@pytest.mark.parametrize(
    "revoked, hint",
    [("access_token", "access_token"), ("refresh_token", "refresh_token")],
    ids=["the access token itself", "its refresh token, as at sign-out"],
)
def test_a_revoked_access_token_is_refused_at_tracker_and_accounting(system, revoked, hint):
    urls, headers, _, _ = system
    _, tokens = new_popug(urls, headers, "developer")
    for service, method, path in MINE:
        eventually(
            lambda: call(urls, service, method, path, None, bearer(tokens)).status_code == 200,
            timeout=30,
            message=f"{service} to accept the new popug's token",
        )
    revoke_at_auth(urls, tokens[revoked], hint)
    for service, method, path in MINE:
        eventually(
            lambda: call(urls, service, method, path, None, bearer(tokens)).status_code == 401,
            timeout=30,
            message=f"{method} {service}{path} to refuse the revoked token",
        )
        answer = call(urls, service, method, path, None, bearer(tokens))
        assert answer.json()["error"] == "token_revoked" and "revoked" in answer.json()["message"]


def test_a_demoted_managers_old_token_is_forbidden_on_manager_endpoints(system):
    urls, headers, _, _ = system
    account_id, tokens = new_popug(urls, headers, "manager")
    manager_only = [
        (service, method, path, body)
        for service, method, path, body, allowed in TABLE
        if service == "tracker" and allowed == {"admin", "manager"}
    ]
    for service, method, path, body in manager_only:
        assert call(urls, service, method, path, body, bearer(tokens)).status_code not in (401, 403)
    demoted = requests.patch(
        f"{urls['auth']}/api/accounts/{account_id}",
        headers=headers["admin"],
        timeout=10,
        json={"role": "developer"},
    )
    assert demoted.status_code == 200 and demoted.json()["role"] == "developer", demoted.text
    for service, method, path, body in manager_only:
        eventually(
            lambda: call(urls, service, method, path, body, bearer(tokens)).status_code == 403,
            timeout=30,
            message=f"{method} {service}{path} to refuse the demoted manager's old token",
        )
    assert (
        call(urls, "tracker", "GET", "/api/tasks?scope=mine", None, bearer(tokens)).status_code
        == 200
    )


def test_a_gateway_cookie_replayed_after_sign_out_signs_nobody_in(system):
    urls, _, _, _ = system
    browser = requests.Session()
    home = sign_in_at_auth(
        browser, browser.get(f"{urls['gateway']}/login", timeout=10), "admin", ADMIN_PASSWORD
    )
    assert "Sign out" in home.text, home.text[:2000]
    copied = browser.cookies.get("ates_gateway_session")
    assert copied
    assert browser.get(f"{urls['gateway']}/logout", timeout=10).status_code == 405, (
        "a GET signs nobody out"
    )
    assert "Sign out" in browser.get(urls["gateway"], timeout=10).text
    browser.post(
        f"{urls['gateway']}/logout", data={"csrf_token": csrf_token(home.text)}, timeout=10
    )

    replay = requests.Session()
    replay.cookies.set("ates_gateway_session", copied)
    tasks = replay.get(f"{urls['gateway']}/tasks", timeout=10, allow_redirects=False)
    assert tasks.status_code == 302 and tasks.headers["Location"].startswith("/login"), (
        tasks.status_code,
        tasks.text,
    )
    assert "Sign out" not in replay.get(urls["gateway"], timeout=10).text
