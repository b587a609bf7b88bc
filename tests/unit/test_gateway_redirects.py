"""Where the gateway sends the browser after sign-in and after a task's complete form: only to its own
pages (ates.redirects.local_path), and a target it cannot use is no 500."""

import pytest

from gateway import tasks
from tests.unit.test_gateway_sso import app, client, csrf_token, fake_sso, sign_in, signing_key  # noqa: F401

LEAVING = [
    "/\t/evil.example",
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "\t",
    "\n",
]


@pytest.mark.parametrize("next_path", LEAVING)
def test_after_sign_in_a_target_off_the_site_lands_on_home(
    client, fake_sso, signing_key, next_path
):
    response = sign_in(client, fake_sso, signing_key, next_path=next_path)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_after_sign_in_a_local_page_with_its_query_is_followed(client, fake_sso, signing_key):
    response = sign_in(client, fake_sso, signing_key, next_path="/accounting/me?date=2026-03-01")
    assert response.headers["Location"] == "/accounting/me?date=2026-03-01"


@pytest.fixture
def completed(monkeypatch):
    asked = []
    monkeypatch.setattr(
        tasks.api_client,
        "post",
        lambda service, path: asked.append(path) or {"title": "Sort seeds"},
    )
    return asked


def complete(client, back):
    form = {
        "csrf_token": csrf_token(client.get("/").text),
        **({"back": back} if back is not None else {}),
    }
    return client.post("/tasks/5b0c1e7e-3f4a-4d8b-9a51-2d1c33c1a002/complete", data=form)


@pytest.mark.parametrize("back", LEAVING + [""])
def test_completing_a_task_never_sends_the_browser_off_the_site(
    client, fake_sso, signing_key, completed, back
):
    sign_in(client, fake_sso, signing_key)
    response = complete(client, back)
    assert completed and response.status_code == 302 and response.headers["Location"] == "/tasks"


def test_completing_a_task_goes_back_to_the_local_page_it_names(
    client, fake_sso, signing_key, completed
):
    sign_in(client, fake_sso, signing_key)
    assert complete(client, "/tasks/all").headers["Location"] == "/tasks/all"
