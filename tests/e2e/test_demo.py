"""`ates demo` against the whole running system: every page a newcomer opens has data afterwards."""

import time
from datetime import date, timedelta

import requests

from cli.main import main as ates
from mailsink import stored_mails, subject_of
from tests.conftest import eventually
from tests.e2e.system import SERVICES_AND_WORKERS, bearer, free_port, running, sign_in_for_tokens

ADMIN_PASSWORD = "demo-admin-password"
PROCESSES = [*SERVICES_AND_WORKERS, "gateway", "mailsink"]


def test_demo_fills_every_area_with_a_day(tmp_path, broker, monkeypatch, capsys):
    var_dir = tmp_path / "var"
    smtp_port = str(free_port())
    with running(
        PROCESSES,
        var_dir,
        broker,
        ATES_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ATES_SMTP_PORT=smtp_port,
        ATES_RETRY_DELAYS_MS="200,500,1000,2000,5000",
    ) as urls:
        monkeypatch.setenv("ATES_AUTH_ISSUER", urls["auth"])
        for service, url in urls.items():
            monkeypatch.setenv(f"ATES_{service.upper()}_URL", url)
        # popugs who were there before the demo: the reassignment gives them tasks (and fees) too
        admin = bearer(sign_in_for_tokens(urls["auth"], "admin", ADMIN_PASSWORD))
        for number in range(6):
            hired = requests.post(
                f"{urls['auth']}/api/accounts",
                headers=admin,
                json={
                    "username": f"old-hand-{number}",
                    "password": "an old hand's password",
                    "email": f"old-hand-{number}@uberpopug.example",
                    "full_name": f"Old Hand {number}",
                    "role": "developer",
                },
                timeout=10,
            )
            assert hired.status_code == 201, hired.text
        started = time.monotonic()
        code = ates(["demo", "--admin-password", ADMIN_PASSWORD, "--tasks", "40", "--seed", "7"])
        took = time.monotonic() - started
        printed = capsys.readouterr()
        assert code == 0, f"ates demo failed:\n{printed.err}"  # why, when it fails once in CI
        print(f"ates demo took {took:.1f} s\n{printed.err}")
        assert "billing day" in printed.err and "Open http" in printed.out

        admin = bearer(sign_in_for_tokens(urls["auth"], "admin", ADMIN_PASSWORD))
        tasks = requests.get(
            f"{urls['tracker']}/api/tasks",
            params={"scope": "all", "limit": 1000},
            headers=admin,
            timeout=10,
        ).json()["tasks"]
        assert len(tasks) == 50 and {"open", "done"} == {task["status"] for task in tasks}

        accounts = requests.get(
            f"{urls['accounting']}/api/accounts", headers=admin, timeout=10
        ).json()["accounts"]
        assert sum(1 for account in accounts if account["balance"] != "0.00") >= 5, accounts

        closed = [
            day
            for day in requests.get(
                f"{urls['accounting']}/api/income", headers=admin, timeout=10
            ).json()["days"]
            if day["management_income"] != "0.00"
        ]
        assert closed, "the demo day has management income"

        summary = eventually(
            lambda: (
                (
                    answer := requests.get(
                        f"{urls['analytics']}/api/summary", headers=admin, timeout=10
                    ).json()
                )["management_income"]
                != "0.00"
                and answer
            ),
            timeout=30,
            message="today's income on the dashboard",
        )
        print("dashboard today:", summary)
        expensive = requests.get(
            f"{urls['analytics']}/api/most-expensive-task",
            params={"period": "week"},
            headers=admin,
            timeout=10,
        ).json()
        assert expensive["task"] is not None

        today = date.fromisoformat(
            requests.get(
                f"{urls['accounting']}/api/billing-days/current", headers=admin, timeout=10
            ).json()["billing_date"]
        )
        yesterday = requests.get(
            f"{urls['accounting']}/api/billing-days/{today - timedelta(days=1)}",
            headers=admin,
            timeout=10,
        ).json()
        assert yesterday["status"] == "closed" and yesterday["payouts"] >= 1, yesterday
        eventually(
            lambda: (
                sum(
                    subject_of(mail).startswith(f"Your day {yesterday['billing_date']}:")
                    for mail in stored_mails(var_dir / "mail")
                )
                >= yesterday["payouts"]
            ),
            timeout=60,
            message="an end-of-day mail for every popug paid, in the sink",
        )
