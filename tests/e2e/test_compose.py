"""compose.yaml built and run: the whole system in containers on images made from Debian's packages
(deploy/images/build: no registry needed), every health check passed, a popug signed in through the
SSO who gets a task, completes it and sees the balance move, then all of it taken down with its data.

Beside a developer's own `bin/up` or `docker compose up`: its own project name, its own published
ports (free ones, on the loopback), and nothing but those ports spoken to."""

import os
import re
import secrets
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import eventually
from tests.e2e.checks import dollars
from tests.e2e.system import form_with, free_port, sign_in_at_auth, sign_up, submit

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "deploy" / "images" / "build"
ONE_SHOT = ("broker-setup", "auth-migrate", "tracker-migrate", "accounting-migrate")
ONE_SHOT += ("analytics-migrate", "notifier-migrate")
UNCHECKED = ("accounting-scheduler", "mailsink")  # no health check of their own: running is all
TITLE = "Feed the compose popugs"
# The first run on a machine builds every image, debootstrap included (5.5 min measured on 2 busy
# cores); later runs take 1-2 min.
pytestmark = pytest.mark.timeout(1200)


def build_images() -> dict[str, str]:
    """The stand-ins and the aTES image (cached after the first time); the variables that point
    compose.yaml at them, as the script prints them."""
    built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, cwd=ROOT)
    assert built.returncode == 0, built.stderr[-6000:]
    images = dict(re.findall(r"^export (ATES_\w*IMAGE)=(\S+)$", built.stdout, re.MULTILINE))
    assert set(images) == {"ATES_IMAGE", "ATES_POSTGRES_IMAGE", "ATES_RABBITMQ_IMAGE"}, built.stdout
    return images


def settings(images: dict[str, str]) -> dict[str, str]:
    """A private .env: fresh secrets, free published ports and the URLs that name them."""
    ports = {
        name: str(free_port()) for name in ("AUTH", "GATEWAY", "RABBITMQ", "RABBITMQ_MANAGEMENT")
    }
    secret_names = ("RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "METRICS_TOKEN", "ADMIN_PASSWORD")
    secret_names += ("AUTH_SECRET_KEY", "GATEWAY_SECRET_KEY", "GATEWAY_CLIENT_SECRET")
    secret_names += tuple(
        f"AMQP_PASSWORD_{owner}"
        for owner in ("AUTH", "TRACKER", "ACCOUNTING", "ANALYTICS", "NOTIFIER", "OPERATOR")
    )
    return {
        **images,
        "ATES_ENV": "development",
        "ATES_RABBITMQ_USER": "ates",
        "ATES_POSTGRES_USER": "ates",
        **{f"ATES_{name}": secrets.token_hex(32) for name in secret_names},
        **{f"ATES_{name}_PORT": port for name, port in ports.items()},
        # auth listens on its published port inside too, so this one URL works everywhere
        "ATES_AUTH_ISSUER": f"http://auth.localhost:{ports['AUTH']}",
        "ATES_GATEWAY_URL": f"http://localhost:{ports['GATEWAY']}",
    }


class Compose:
    """`docker-compose -p <own project>` on compose.yaml with a private env file, and nothing of
    this shell's ATES_* settings (compose would prefer them to the file's)."""

    def __init__(self, project: str, env_file: Path):
        self.project = project
        self.base = ["docker-compose", "-p", project, "-f", str(ROOT / "compose.yaml")]
        self.base += ["--env-file", str(env_file)]
        self.env = {
            name: value for name, value in os.environ.items() if not name.startswith("ATES_")
        }
        self.env.pop("WEB_CONCURRENCY", None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, cwd=ROOT, env=self.env
        )
        assert done.returncode == 0 or not check, f"docker-compose {args}: {done.stderr[-4000:]}"
        return done

    def states(self) -> dict[str, dict]:
        """Each container's service and state (status, exit code, health), from the engine."""
        ids = self.run("ps", "-a", "-q").stdout.split()
        if not ids:
            return {}
        template = (
            '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} '
            "{{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"
        )
        shown = subprocess.run(
            ["docker", "inspect", "-f", template, *ids], capture_output=True, text=True, check=True
        ).stdout
        return {
            service: {"status": status, "exit": int(code), "health": health}
            for service, status, code, health in (line.split() for line in shown.splitlines())
        }

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail", "40", check=False).stdout


def all_up(compose: Compose, services: set[str]) -> bool:
    """Every one-shot exited 0, every checked container healthy, the rest running; a one-shot that
    failed or a container that died fails at once."""
    states = compose.states()
    for service, state in states.items():
        if service in ONE_SHOT:
            assert state["status"] != "exited" or state["exit"] == 0, (service, state)
        else:
            assert state["status"] != "exited", (service, state)
    if set(states) != services:
        return False
    return all(
        state["status"] == "exited"
        if service in ONE_SHOT
        else state["status"] == "running" and state["health"] in ("healthy", "none")
        for service, state in states.items()
    ) and all(states[service]["health"] == "none" for service in UNCHECKED)


@pytest.fixture
def localhost_names(monkeypatch):
    """Every *.localhost name is this machine's loopback, as browsers resolve it (RFC 6761);
    glibc here knows only `localhost` itself, so the test's HTTP client is taught the rest."""
    resolve = socket.getaddrinfo

    def loopback_for_localhost(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_for_localhost)


@pytest.fixture
def system(tmp_path, localhost_names):
    """The whole compose.yaml up and healthy on the local images; down with its volumes after."""
    env = settings(build_images())
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    env_file.chmod(0o600)
    compose = Compose(f"ates-test-{secrets.token_hex(4)}", env_file)
    services = set(compose.run("config", "--services").stdout.split())
    try:
        compose.run("up", "-d", "--no-build")
        eventually(
            lambda: all_up(compose, services),
            timeout=300,
            interval=2,
            message="every compose health check",
        )
        yield {
            "gateway": env["ATES_GATEWAY_URL"],
            "auth": env["ATES_AUTH_ISSUER"],
            "admin_password": env["ATES_ADMIN_PASSWORD"],
            "compose": compose,
        }
    except BaseException:
        print(f"--- docker-compose logs of {compose.project} ---\n{compose.logs()}")
        raise
    finally:
        compose.run("down", "-v", "--remove-orphans", "--timeout", "20", check=False)


def signed_in(system: dict, username: str, password: str) -> requests.Session:
    """Through the gateway's /login, auth's login page and back, as a browser follows it."""
    browser = requests.Session()
    home = sign_in_at_auth(
        browser, browser.get(f"{system['gateway']}/login", timeout=10), username, password
    )
    assert f"{username} (" in home.text, home.text[:2000]
    return browser


def task_created(admin: requests.Session, system: dict) -> bool:
    page = admin.get(f"{system['gateway']}/tasks", timeout=10)
    answer = submit(admin, page, form_with(page, field="title"), title=TITLE, description="all")
    return "created and assigned" in answer.text


def paid_for_the_task(popug: requests.Session, system: dict) -> dict | None:
    """The popug's balance and its audit log, once the log holds the task's fee and reward."""
    page = popug.get(f"{system['gateway']}/accounting", timeout=10).text
    rows = re.findall(
        r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>\s*<td[^>]*>([^<]+)</td>\s*<td[^>]*>([^<]+)</td>"
        r"\s*<td>(.*?)</td>",
        page,
        re.DOTALL,
    )
    kinds = {kind: dollars(amount) for kind, amount, _, task in rows if TITLE in task}
    if set(kinds) != {"assign fee", "reward"}:
        return None
    shown = re.search(r'<p class="balance">Balance now: <strong[^>]*>([^<]+)</strong>', page)
    return {"balance": dollars(shown.group(1)), **kinds}


def test_compose_runs_the_whole_system_on_local_images(system):
    compose = system["compose"]
    assert all(compose.states()[name]["exit"] == 0 for name in ONE_SHOT)

    answer = sign_up(system, "kesha", "kesha-password-1")
    assert answer.status_code == 200 and "logged in" in answer.text, answer.text[:2000]
    admin = signed_in(system, "admin", system["admin_password"])
    eventually(
        lambda: task_created(admin, system),
        timeout=60,
        interval=1,
        message="kesha's account to reach the tracker over the broker",
    )

    kesha = signed_in(system, "kesha", "kesha-password-1")
    mine = kesha.get(f"{system['gateway']}/tasks", timeout=10)
    assert TITLE in mine.text, mine.text[:2000]
    done = submit(kesha, mine, form_with(mine, action="/complete"))
    assert "is done" in done.text, done.text[:2000]

    paid = eventually(
        lambda: paid_for_the_task(kesha, system),
        timeout=60,
        interval=1,
        message="the fee and the reward on kesha's balance page",
    )
    assert paid["assign fee"] < 0 < paid["reward"], paid
    assert paid["balance"] == paid["assign fee"] + paid["reward"], paid
