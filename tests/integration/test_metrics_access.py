"""Who may read /metrics (docs/observability.md): with ATES_METRICS_TOKEN set, only a caller with
`Authorization: Bearer <that token>`, at every web service and every worker's metrics port; in
production the token is required, and a process without one refuses to start. The workers' own
`/healthz` stays open for the container health checks."""

import socket

import pytest
import requests

from ates import metrics
from ates.config import load_settings

TOKEN = "a-scraper-token-of-some-length"
PRODUCTION = {"ATES_ENV": "production"}


def web_app(name: str, tmp_path, env: dict):
    import importlib

    settings = load_settings(name, {"ATES_VAR_DIR": str(tmp_path), **env})
    if name == "gateway":
        from gateway.app import create_app

        return create_app(settings, {"SECRET_KEY": "s" * 40, "GATEWAY_CLIENT_SECRET": "c" * 40})
    if name == "auth":
        from auth.settings import load_auth_settings

        return importlib.import_module("auth.app").create_app(
            settings,
            load_auth_settings(
                {
                    "ATES_AUTH_ISSUER": "https://sso.example",
                    "ATES_AUTH_SECRET_KEY": "k" * 40,
                    "ATES_ADMIN_PASSWORD": "a-long-admin-password",
                    "ATES_GATEWAY_CLIENT_SECRET": "c" * 40,
                    "ATES_GATEWAY_URL": "https://ates.example",
                }
            ),
        )
    return importlib.import_module(f"{name}.app").create_app(settings)


WEB = ["gateway", "auth", "tracker", "accounting", "analytics"]
CALLERS = [  # (Authorization header, allowed?)
    (None, False),
    ("Bearer", False),
    ("Bearer wrong-token", False),
    (f"Basic {TOKEN}", False),
    (f"Bearer {TOKEN}x", False),
    (f"Bearer {TOKEN}", True),
    (f"bearer {TOKEN}", True),
]


@pytest.mark.parametrize("service", WEB)
@pytest.mark.parametrize("authorization, allowed", CALLERS)
def test_with_a_token_set_only_its_bearer_reads_a_web_services_metrics(
    tmp_path, service, authorization, allowed
):
    client = web_app(service, tmp_path, {"ATES_METRICS_TOKEN": TOKEN}).test_client()
    answer = client.get(
        "/metrics", headers={"Authorization": authorization} if authorization else {}
    )
    if allowed:
        assert answer.status_code == 200 and "ates_http_request_seconds" in answer.text
    else:
        assert answer.status_code == 401 and answer.json["error"] == "invalid_token", answer.text[
            :200
        ]
        assert (
            "ATES_METRICS_TOKEN" in answer.json["message"]
            and answer.headers["WWW-Authenticate"] == "Bearer"
        )
        assert "ates_" not in answer.text


@pytest.mark.parametrize("service", WEB)
def test_production_refuses_to_start_a_web_service_without_a_metrics_token(
    tmp_path, monkeypatch, service
):
    with pytest.raises(metrics.MetricsUnprotected, match="ATES_METRICS_TOKEN"):
        web_app(service, tmp_path, PRODUCTION)


@pytest.mark.parametrize("token", ["", "   ", "short"])
def test_production_refuses_an_empty_or_short_metrics_token(tmp_path, token):
    with pytest.raises(metrics.MetricsUnprotected, match="at least 24 characters"):
        web_app("tracker", tmp_path, {**PRODUCTION, "ATES_METRICS_TOKEN": token})


def test_production_with_a_token_starts_and_development_without_one_is_open(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "ATES_AUTH_ISSUER", "https://sso.example"
    )  # production's other rule for the tracker
    production = web_app(
        "tracker", tmp_path / "p", {**PRODUCTION, "ATES_METRICS_TOKEN": TOKEN}
    ).test_client()
    assert production.get("/metrics").status_code == 401
    development = web_app("tracker", tmp_path / "d", {}).test_client()
    assert development.get("/metrics").status_code == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def worker_metrics():
    servers = []

    def serve(env: dict):
        port = free_port()
        server = metrics.serve_worker_metrics(
            "tracker", {"ATES_TRACKER_WORKER_METRICS_PORT": str(port), **env}
        )
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield serve
    for server in servers:
        if server is not None:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("authorization, allowed", CALLERS)
def test_with_a_token_set_only_its_bearer_reads_a_workers_metrics(
    worker_metrics, authorization, allowed
):
    url = worker_metrics({"ATES_METRICS_TOKEN": TOKEN})
    answer = requests.get(
        f"{url}/metrics",
        headers={"Authorization": authorization} if authorization else {},
        timeout=5,
    )
    if allowed:
        assert (
            answer.status_code == 200 and "# TYPE ates_events_consumed_total counter" in answer.text
        )
    else:
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
        assert answer.headers["WWW-Authenticate"] == "Bearer" and "ates_" not in answer.text


def test_a_workers_health_check_needs_no_token(worker_metrics):
    url = worker_metrics({**PRODUCTION, "ATES_METRICS_TOKEN": TOKEN})
    answer = requests.get(f"{url}/healthz", timeout=5)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_production_refuses_to_start_a_workers_metrics_without_a_token():
    with pytest.raises(metrics.MetricsUnprotected, match="ATES_METRICS_TOKEN"):
        metrics.serve_worker_metrics(
            "tracker", {**PRODUCTION, "ATES_TRACKER_WORKER_METRICS_PORT": str(free_port())}
        )


def test_a_production_worker_without_metrics_needs_no_token():
    assert (
        metrics.serve_worker_metrics(
            "tracker", {**PRODUCTION, "ATES_TRACKER_WORKER_METRICS_PORT": "0"}
        )
        is None
    )
