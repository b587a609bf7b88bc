"""Tasks as popugs meet them: through the gateway's pages, signed in through the real SSO, with
auth's account events reaching the tracker over the real broker."""

import pytest
import requests

from tests.conftest import eventually
from tests.e2e.system import (
    form_with,
    postgres_databases,
    running,
    sign_in_at_auth,
    sign_up,
    submit,
)

ADMIN_PASSWORD = "e2e-admin-password"
PROCESSES = ["auth", "auth-worker", "tracker", "tracker-worker", "gateway"]


@pytest.fixture(scope="module")
def system(tmp_path_factory, broker_for_module):
    var_dir = tmp_path_factory.mktemp("tasks") / "var"
    with (
        postgres_databases("tasks") as databases,
        running(
            PROCESSES,
            var_dir,
            broker_for_module,
            ATES_ADMIN_PASSWORD=ADMIN_PASSWORD,
            ATES_RETRY_DELAYS_MS="200,500,1000",
            **databases,
        ) as urls,
    ):
        yield urls


def signed_in(system, username, password) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    home = sign_in_at_auth(
        browser, browser.get(f"{system['gateway']}/login", timeout=10), username, password
    )
    assert f"{username} (" in home.text, home.text[:2000]
    return browser, home


def create_task(browser, system, **fields) -> requests.Response:
    page = browser.get(f"{system['gateway']}/tasks", timeout=10)
    return submit(browser, page, form_with(page, field="title"), **fields)


def test_a_popug_gets_a_task_completes_it_and_admins_reassign(system):
    answer = sign_up(system, "kesha", "kesha-password-1")
    assert answer.status_code == 200, answer.text[:2000]
    admin, _ = signed_in(system, "admin", ADMIN_PASSWORD)

    def created():
        answer = create_task(
            admin, system, title="[UBERPOP-7] — Change the green", description="all of it"
        )
        return answer if "created and assigned" in answer.text else None

    eventually(
        created, timeout=30, interval=0.5, message="kesha to become assignable in the tracker"
    )

    nonsense = create_task(admin, system, title="Fix [this]")
    assert nonsense.status_code == 200 and "may not contain [ or ]" in nonsense.text

    every = admin.get(f"{system['gateway']}/tasks/all", timeout=10).text
    assert "UBERPOP-7" in every and "Change the green" in every and "Fix [this]" not in every

    reassign_page = admin.get(f"{system['gateway']}/tasks/reassign", timeout=10)
    job_page = submit(admin, reassign_page, form_with(reassign_page, action="/tasks/reassign"))
    eventually(
        lambda: "done" in admin.get(job_page.url, timeout=10).text,
        timeout=30,
        message="the job to finish",
    )
    assert "Done: 1 of 1 open tasks reassigned" in admin.get(job_page.url, timeout=10).text

    kesha, _ = signed_in(system, "kesha", "kesha-password-1")
    mine = kesha.get(f"{system['gateway']}/tasks", timeout=10)
    assert "Change the green" in mine.text
    done = submit(kesha, mine, form_with(mine, action="/complete"))
    assert "is done" in done.text and "Nothing open" in done.text
    assert kesha.get(f"{system['gateway']}/tasks/all", timeout=10).status_code == 403
