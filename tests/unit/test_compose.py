"""compose.yaml is valid (docker-compose parses it without an engine) and runs what the Procfile runs."""
import subprocess
from pathlib import Path

import yaml

from ates.processes import read_procfile

ROOT = Path(__file__).resolve().parents[2]
WEB = ("gateway", "auth", "tracker", "accounting", "analytics")


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_docker_compose_accepts_the_file():
    checked = subprocess.run(["docker-compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_every_procfile_process_is_a_compose_service():
    assert set(read_procfile(ROOT / "Procfile")) <= set(compose()["services"])


def test_every_web_service_runs_under_gunicorn_with_a_health_check():
    services = compose()["services"]
    for name in WEB:
        assert services[name]["command"][0] == "gunicorn", name
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"]), name


def test_every_service_with_a_database_gets_its_own():
    services = compose()["services"]
    urls = {name: service["environment"]["DATABASE_URL"] for name, service in services.items()
            if "DATABASE_URL" in service.get("environment", {})}
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
    assert len(workers) == 4
    for name in workers:
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "/healthz" in check and "/metrics" not in check, name
