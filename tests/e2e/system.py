"""Starting aTES processes for end-to-end tests exactly as the Procfile does, and a browser's
way with HTML forms (a requests.Session that fills in and submits what a page shows)."""
import os
import re
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
WEB = ("gateway", "auth", "tracker", "accounting", "analytics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def procfile_command(process: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise LookupError(f"no {process} in the Procfile")


@contextmanager
def running(processes: list[str], var_dir: Path, amqp_url: str | None = None, **settings):
    """Migrate, declare and start the named Procfile processes on free ports; yields the web URLs."""
    ports = {service: free_port() for service in WEB}
    env = {name: value for name, value in os.environ.items() if not name.startswith("ATES_")
           and not name.endswith("DATABASE_URL")}
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "ATES_VAR_DIR": str(var_dir), "ATES_AUTH_ISSUER": f"http://localhost:{ports['auth']}",
                **{f"ATES_{service.upper()}_PORT": str(port) for service, port in ports.items()}, **settings})
    if amqp_url:
        env["ATES_AMQP_URL"] = amqp_url
    var_dir.mkdir(parents=True, exist_ok=True)
    for service in {p.removesuffix("-worker") for p in processes} - {"gateway"}:
        subprocess.run(["flask", "--app", f"{service}.app", "migrate"], cwd=ROOT, env=env, check=True)
        if amqp_url:
            subprocess.run([sys.executable, "-m", f"{service}.worker", "declare"], cwd=ROOT, env=env, check=True)
    started, logs = [], {}
    for process in processes:
        logs[process] = var_dir / f"{process}.log"
        with open(logs[process], "wb") as log:
            started.append(subprocess.Popen(["bash", "-c", procfile_command(process)], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    urls = {service: f"http://localhost:{port}" for service, port in ports.items() if service in processes}
    try:
        for service, url in urls.items():
            eventually(lambda: healthy(url), timeout=60, interval=0.2, message=f"{service} /healthz")
        yield urls
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            process.wait(timeout=30)
        for process, path in logs.items():  # shown by pytest when a test failed
            print(f"----- {process} log -----\n{path.read_text()[-4000:]}")


class Forms(HTMLParser):
    """The forms of a page: action, method and the inputs' names and values, as a browser would send them."""

    def __init__(self, page: str):
        super().__init__()
        self.found: list[dict] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.found.append({"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(),
                               "fields": {}})
        elif tag in ("input", "button", "textarea") and self.found and attrs.get("name"):
            if attrs.get("type") not in ("submit", "checkbox", "radio") or tag == "input" and attrs.get("checked"):
                self.found[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def submit(browser: requests.Session, page: requests.Response, form: dict, **values) -> requests.Response:
    url = urljoin(page.url, form["action"] or page.url)
    data = {**form["fields"], **values}
    if form["method"] == "post":
        return browser.post(url, data=data, timeout=10)
    return browser.get(url, params=data, timeout=10)


def form_with(page: requests.Response, field: str = None, action: str = None) -> dict:
    for form in Forms(page.text).found:
        if (field is None or field in form["fields"]) and (action is None or action in form["action"]):
            return form
    raise AssertionError(f"no form with {field or action} at {page.url} ({page.status_code}):\n{page.text[:2000]}")


def sign_in_at_auth(browser: requests.Session, page: requests.Response, username: str, password: str):
    return submit(browser, page, form_with(page, field="password"), username=username, password=password)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
