"""compose.yaml is valid (docker-compose parses it without an engine), runs what the Procfile runs,
and takes every secret from the uncommitted .env (.env.example is its template)."""

import os
import re
import subprocess
from pathlib import Path

import yaml

from ates.processes import read_procfile

ROOT = Path(__file__).resolve().parents[2]
WEB = ("gateway", "auth", "tracker", "accounting", "analytics", "notifier")


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


SECRET = re.compile(
    r"PASS|SECRET|_KEY$|_USER$"
)  # what .env must hold; the URLs have local defaults
CREDENTIALS = re.compile(
    r"PASS|SECRET|_KEY$|_USER$|AMQP_URL$|DATABASE_URL$"
)  # what may embed a secret


def example_settings() -> dict:
    """.env.example's variables, each empty one filled with a throw-away value."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    found = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name: value or f"throw-away-{name.lower()}" for name, value in found.items()}


def docker_compose_config(tmp_path, settings: dict) -> subprocess.CompletedProcess:
    """`docker-compose config -q` with these settings as its env file and none from this shell."""
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    shell = {name: value for name, value in os.environ.items() if not name.startswith("ATES_")}
    return subprocess.run(
        [
            "docker-compose",
            "--env-file",
            str(env_file),
            "-f",
            str(ROOT / "compose.yaml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        env=shell,
    )


def test_docker_compose_accepts_the_file_with_the_env_file_filled_in(tmp_path):
    checked = docker_compose_config(tmp_path, example_settings())
    assert checked.returncode == 0, checked.stderr


def test_docker_compose_refuses_to_start_on_the_unfilled_template(tmp_path):
    template = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    refused = docker_compose_config(tmp_path, template)
    assert refused.returncode != 0 and "in .env (see .env.example)" in refused.stderr


def test_every_secret_is_required_from_the_env_file():
    """Each credential a service gets is ${...} substitution, and each secret of .env.example a
    required one."""
    text = (ROOT / "compose.yaml").read_text()
    for name in (name for name in example_settings() if SECRET.search(name)):
        assert f"${{{name}:?set {name} in .env" in text, name
    for name, service in compose()["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if CREDENTIALS.search(variable) and "@" in str(value) or SECRET.search(variable):
                assert "${" in str(value), (name, variable, value)


def test_each_container_gets_only_its_own_broker_password():
    """Per-service broker users (docs/bus.md): a service's container holds no other service's password,
    and no process but broker-setup signs in as the broker's administrator."""
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        passwords = {
            variable for variable in environment if variable.startswith("ATES_AMQP_PASSWORD_")
        }
        if name == "broker-setup":
            assert len(passwords) == 6 and "@" in environment["ATES_AMQP_URL"]
            continue
        owner = {"gateway": "operator"}.get(name, name.split("-")[0])
        assert passwords <= {f"ATES_AMQP_PASSWORD_{owner.upper()}"}, (name, passwords)
        assert "@" not in str(environment.get("ATES_AMQP_URL", "")), (
            name,
            "credentials in ATES_AMQP_URL",
        )


def test_the_env_file_stays_out_of_git_and_the_image_and_its_template_holds_no_secret():
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()
    template = [
        line
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(line.endswith("=") for line in template if re.search(r"PASS|SECRET|_KEY=", line)), (
        template
    )


def test_every_procfile_process_is_a_compose_service():
    assert set(read_procfile(ROOT / "Procfile")) <= set(compose()["services"])


def test_every_web_service_runs_under_gunicorn_with_a_health_check():
    services = compose()["services"]
    for name in WEB:
        assert services[name]["command"][0] == "gunicorn", name
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"]), name


def test_every_service_with_a_database_gets_its_own():
    services = compose()["services"]
    urls = {
        name: service["environment"]["DATABASE_URL"]
        for name, service in services.items()
        if "DATABASE_URL" in service.get("environment", {})
    }
    for name, url in urls.items():
        assert url.rsplit("/", 1)[1] == name.split("-")[0], (name, url)


def test_production_containers_protect_metrics_and_health_check_workers_without_the_token():
    """All containers run with ATES_ENV=production, which refuses to start without ATES_METRICS_TOKEN;
    a worker's health check asks its open /healthz, not the /metrics that needs the token."""
    from ates.metrics import MIN_TOKEN_LENGTH

    services = compose()["services"]
    for name, service in services.items():
        environment = service.get("environment", {})
        if environment.get("ATES_ENV") == "production":
            assert len(environment.get("ATES_METRICS_TOKEN", "")) >= MIN_TOKEN_LENGTH, name
    workers = [name for name in services if name.endswith("-worker")]
    assert len(workers) == 5
    for name in workers:
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "/healthz" in check and "/metrics" not in check, name


def test_every_image_can_be_replaced_by_a_variable():
    """Where no registry is reachable, deploy/images/build's stand-ins take the official images'
    places without an edit to compose.yaml (docs/running-in-containers.md)."""
    text = (ROOT / "compose.yaml").read_text()
    images = sorted(set(re.findall(r"^\s+image: (.+)$", text, re.MULTILINE)))
    assert images[0] == "${ATES_IMAGE:-ates:local}", images
    assert images[1].startswith("${ATES_POSTGRES_IMAGE:-postgres:16@sha256:"), images
    assert images[2].startswith("${ATES_RABBITMQ_IMAGE:-rabbitmq:3.13-management@sha256:"), images
    assert len(images) == 3, images
    assert "ARG PYTHON_IMAGE=" in (ROOT / "Dockerfile").read_text()


def test_published_ports_are_variables_with_the_usual_defaults():
    """A second system beside a developer's (the e2e test) publishes elsewhere; without settings
    the ports are 5000, 5001, 5672 and 15672 as always."""
    published = {name: service.get("ports", []) for name, service in compose()["services"].items()}
    assert published.pop("gateway") == ["${ATES_GATEWAY_PORT:-5000}:5000"]
    assert published.pop("auth") == ["${ATES_AUTH_PORT:-5001}:${ATES_AUTH_PORT:-5001}"]
    assert published.pop("rabbitmq") == [
        "${ATES_RABBITMQ_PORT:-5672}:5672",
        "${ATES_RABBITMQ_MANAGEMENT_PORT:-15672}:15672",
    ]
    assert not any(published.values()), published


def test_auth_listens_inside_on_the_port_its_issuer_names():
    """The issuer is one URL for the browser (published port) and the containers (network alias):
    auth binds, publishes and checks its health on ATES_AUTH_PORT, whose default the default
    issuer and .env.example name."""
    auth = compose()["services"]["auth"]
    port = "${ATES_AUTH_PORT:-5001}"
    assert auth["command"][:3] == ["gunicorn", "--bind", f"0.0.0.0:{port}"]
    assert f"http://localhost:{port}/healthz" in " ".join(auth["healthcheck"]["test"])
    assert "auth.localhost" in auth["networks"]["default"]["aliases"]
    issuer = compose()["x-ates-environment"]["ATES_AUTH_ISSUER"]
    assert issuer == "${ATES_AUTH_ISSUER:-http://auth.localhost:5001}"
    template = (ROOT / ".env.example").read_text()
    assert "ATES_AUTH_ISSUER=http://auth.localhost:5001\n" in template
    assert "ATES_AUTH_PORT=5001\n" in template
