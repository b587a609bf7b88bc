"""Starting aTES processes for end-to-end tests exactly as the Procfile does, and a browser's
way with HTML forms (a requests.Session that fills in and submits what a page shows)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
WEB = ("gateway", "auth", "tracker", "accounting", "analytics", "notifier")
SERVICES_WITH_DATABASES = ("auth", "tracker", "accounting", "analytics", "notifier")
# Each service's web process and worker, in the order they start: what most e2e tests run.
SERVICES_AND_WORKERS = tuple(
    process for service in SERVICES_WITH_DATABASES for process in (service, f"{service}-worker")
)
# Where the e2e tests make their PostgreSQL databases when asked to (a server's maintenance db).
POSTGRES_ADMIN_URL = os.environ.get(
    "ATES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_side_ports() -> dict[str, str]:
    """Every port a system of the tests listens on besides its web ports, chosen free: the SMTP
    sink's and each worker's metrics port (their defaults, 8025 and 9101-9105, are a developer's
    own `bin/up`'s)."""
    return {
        "ATES_SMTP_PORT": str(free_port()),
        **{
            f"ATES_{service.upper()}_WORKER_METRICS_PORT": str(free_port())
            for service in SERVICES_WITH_DATABASES
        },
    }


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
def postgres_databases(tag: str):
    """A fresh PostgreSQL database per service, dropped afterwards: `{AUTH_DATABASE_URL: ...}`."""
    import psycopg2  # only the PostgreSQL runs need it

    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    names = {service: f"ates_e2e_{tag}_{service}" for service in SERVICES_WITH_DATABASES}
    admin = psycopg2.connect(POSTGRES_ADMIN_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cursor.execute(f'CREATE DATABASE "{name}"')
        yield {
            f"{service.upper()}_DATABASE_URL": f"{base}/{name}" for service, name in names.items()
        }
    finally:
        with admin.cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def running(processes: list[str], var_dir: Path, broker=None, **settings):
    """Migrate, declare and start the named Procfile processes on free ports; yields the web URLs.

    `settings` become the processes' environment; `<SERVICE>_DATABASE_URL` among them points a
    service at PostgreSQL instead of its SQLite file under `var_dir`.
    """
    ports = {service: free_port() for service in WEB}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ATES_") and not name.endswith("DATABASE_URL")
    }
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "WEB_CONCURRENCY": "1",  # one gunicorn process per service unless a test asks for more
            "ATES_VAR_DIR": str(var_dir),
            "ATES_AUTH_ISSUER": f"http://localhost:{ports['auth']}",
            **free_side_ports(),
            **{f"ATES_{service.upper()}_PORT": str(port) for service, port in ports.items()},
            **settings,
        }
    )
    if broker:
        env.update(broker.env())  # every process its own broker user
    var_dir.mkdir(parents=True, exist_ok=True)
    for service in sorted({p.split("-")[0] for p in processes} & set(SERVICES_WITH_DATABASES)):
        subprocess.run(
            ["flask", "--app", f"{service}.app", "migrate"], cwd=ROOT, env=env, check=True
        )
        if broker:
            subprocess.run(
                [sys.executable, "-m", f"{service}.worker", "declare"],
                cwd=ROOT,
                env=env,
                check=True,
            )
    started, logs = [], {}
    for process in processes:
        logs[process] = var_dir / f"{process}.log"
        with open(logs[process], "wb") as log:
            started.append(
                subprocess.Popen(
                    ["bash", "-c", procfile_command(process)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    urls = {
        service: f"http://localhost:{port}"
        for service, port in ports.items()
        if service in processes
    }
    try:
        for service, url in urls.items():
            eventually(
                lambda: healthy(url), timeout=60, interval=0.2, message=f"{service} /healthz"
            )
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
            self.found.append(
                {
                    "action": attrs.get("action") or "",
                    "method": (attrs.get("method") or "get").lower(),
                    "fields": {},
                }
            )
        elif (
            tag in ("input", "button", "textarea")
            and self.found
            and attrs.get("name")
            and (
                attrs.get("type") not in ("submit", "checkbox", "radio")
                or (tag == "input" and attrs.get("checked"))
            )
        ):
            self.found[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def submit(
    browser: requests.Session, page: requests.Response, form: dict, **values
) -> requests.Response:
    url = urljoin(page.url, form["action"] or page.url)
    data = {**form["fields"], **values}
    if form["method"] == "post":
        return browser.post(url, data=data, timeout=10)
    return browser.get(url, params=data, timeout=10)


def form_with(page: requests.Response, field: str = None, action: str = None) -> dict:
    for form in Forms(page.text).found:
        if (field is None or field in form["fields"]) and (
            action is None or action in form["action"]
        ):
            return form
    raise AssertionError(
        f"no form with {field or action} at {page.url} ({page.status_code}):\n{page.text[:2000]}"
    )


def sign_up(system: dict, username: str, password: str) -> requests.Response:
    """A popug signs up at auth's page as a browser would; the answer of the form's POST."""
    browser = requests.Session()
    page = browser.get(f"{system['auth']}/signup", timeout=10)
    return submit(
        browser,
        page,
        form_with(page, field="email"),
        username=username,
        password=password,
        email=f"{username}@uberpopug.example",
        full_name=username.title(),
    )


def sign_in_at_auth(
    browser: requests.Session, page: requests.Response, username: str, password: str
):
    return submit(
        browser, page, form_with(page, field="password"), username=username, password=password
    )


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in_for_tokens(auth_url: str, username: str, password: str) -> dict:
    """The real authorization-code flow of the `ates-cli` client (PKCE, loopback redirect), with
    auth's login form filled in by the program (the same path `ates demo` signs popugs in by)."""
    from cli.login import login_with_password

    return login_with_password(auth_url, username, password)


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


class Supervised:
    """The whole Procfile running under supervisord, as `bin/up` runs it, and the means to poke it:
    a process's pid, SIGKILL it and see it come back, stop and start one by name."""

    def __init__(self, conf: Path, urls: dict[str, str], log_path: Path, env: dict[str, str]):
        self.conf, self.urls, self.log_path, self.env = conf, urls, log_path, env
        self.var_dir = Path(env["ATES_VAR_DIR"])

    def _rpc(self):
        from xmlrpc.client import ServerProxy

        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(
            None, None, f"unix://{self.conf.parent / 'supervisor.sock'}"
        )
        return ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def info(self, process: str) -> dict:
        return self._rpc().getProcessInfo(process)

    def processes(self) -> list[dict]:
        """supervisord's view of every process: name, statename, pid, ..."""
        return self._rpc().getAllProcessInfo()

    def pid(self, process: str) -> int:
        """The running process's pid (0 when it is not running)."""
        return self.info(process)["pid"]

    def kill(self, process: str, wait_for_restart: bool = True, timeout: float = 60) -> int:
        """SIGKILL the process; with `wait_for_restart`, wait until supervisord runs it again.
        Returns the new pid."""
        old = eventually(
            lambda: self.pid(process), timeout=timeout, interval=0.1, message=f"{process} to run"
        )
        try:
            os.kill(old, signal.SIGKILL)
        except ProcessLookupError:  # it died a moment ago: supervisord restarts it all the same
            pass
        if not wait_for_restart:
            return 0

        def restarted():
            info = self.info(process)
            return (
                info["pid"]
                if info["statename"] == "RUNNING" and info["pid"] not in (0, old)
                else None
            )

        return eventually(
            restarted, timeout=timeout, interval=0.1, message=f"supervisord to restart {process}"
        )

    def kill_a_child(self, process: str, timeout: float = 60) -> int:
        """SIGKILL one child of the process (a gunicorn worker of its master) and wait until the
        master (the one running then: it may itself have been restarted a moment ago) has another.
        Returns the new child's pid."""

        def children() -> list[int]:
            master = self.pid(process)
            return _children(master) if master else []

        old = eventually(
            lambda: children()[:1], timeout=timeout, interval=0.1, message=f"{process}'s worker"
        )[0]
        try:
            os.kill(old, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return eventually(
            lambda: next((pid for pid in children() if pid != old), None),
            timeout=timeout,
            interval=0.1,
            message=f"{process} to start a new worker",
        )

    def stop(self, *processes: str) -> None:
        for process in processes:
            self._rpc().stopProcess(process, True)

    def start(self, *processes: str) -> None:
        for process in processes:
            self._rpc().startProcess(process, True)
        for process in processes:
            if process in self.urls:
                eventually(
                    lambda: healthy(self.urls[process]),
                    timeout=60,
                    interval=0.2,
                    message=f"{process} /healthz",
                )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    """The pids of the process's children (Linux: /proc/<pid>/task/*/children)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found


def _migrate_and_declare(services, env: dict[str, str]) -> None:
    """What bin/up does before it starts anything: each service's database migrated, its queues declared."""

    def prepare(service):
        for command in (
            ["flask", "--app", f"{service}.app", "migrate"],
            [sys.executable, "-m", f"{service}.worker", "declare"],
        ):
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"

    with ThreadPoolExecutor(
        len(services)
    ) as pool:  # the services one beside the other, as they are independent
        list(pool.map(prepare, services))


def replicated_procfile(path: Path, replicas: int) -> Path:
    """A Procfile beside `path` with `replicas` of each aTES process: `tracker`, `tracker-2`, ...; one
    mail sink (the test's SMTP server, no part of aTES). Replicas of a web process are gunicorn masters
    on the same port (gunicorn.conf.py: reuse_port), among which the kernel shares the connections."""
    from ates.processes import read_procfile

    lines = []
    for name, command in read_procfile(ROOT / "Procfile").items():
        copies = 1 if name == "mailsink" else replicas
        lines += [f"{name}{'' if n == 1 else f'-{n}'}: {command}" for n in range(1, copies + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def supervised(var_dir: Path, broker, replicas: int = 1, **settings):
    """Every process of the Procfile on free ports under supervisord, after what bin/up does first:
    every service's database migrated, every service's topology declared, the supervisord
    configuration written by `python -m ates.processes`; `replicas` of each (replicated_procfile).
    `settings` become the environment (`<SERVICE>_DATABASE_URL` among them points a service at
    PostgreSQL). Yields a `Supervised`.
    """
    ports = {service: free_port() for service in WEB}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ATES_") and not name.endswith("DATABASE_URL")
    }
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "WEB_CONCURRENCY": "1",  # one gunicorn process per service unless a test asks for more
            "ATES_VAR_DIR": str(var_dir),
            "ATES_AUTH_ISSUER": f"http://localhost:{ports['auth']}",
            **broker.env(),
            "ATES_SMTP_HOST": "127.0.0.1",
            **free_side_ports(),
            **{f"ATES_{service.upper()}_PORT": str(port) for service, port in ports.items()},
            **settings,
        }
    )
    var_dir.mkdir(parents=True, exist_ok=True)
    _migrate_and_declare(SERVICES_WITH_DATABASES, env)
    # supervisord's socket lives beside its configuration: a short path, as a unix socket's must be.
    conf = Path(tempfile.mkdtemp(prefix="ates-sv-")) / "supervisord.conf"
    procfile = (
        ["--procfile", str(replicated_procfile(conf.parent / "Procfile", replicas))]
        if replicas > 1
        else []
    )
    subprocess.run(
        [sys.executable, "-m", "ates.processes", str(conf), *procfile],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log_path = var_dir / "supervisord.log"
    with open(log_path, "wb") as log:
        runner = subprocess.Popen(
            [str(Path(sys.executable).parent / "supervisord"), "-c", str(conf)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    urls = {service: f"http://localhost:{port}" for service, port in ports.items()}
    system = Supervised(conf, urls, log_path, env)
    try:
        for service, url in urls.items():
            eventually(
                lambda: healthy(url), timeout=90, interval=0.2, message=f"{service} /healthz"
            )
        yield system
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C, as bin/up is stopped
            try:
                runner.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
        print(f"----- supervisord log (last 6000 characters) -----\n{system.log()[-6000:]}")
        shutil.rmtree(conf.parent, ignore_errors=True)
