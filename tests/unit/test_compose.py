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
