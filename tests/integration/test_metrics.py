"""/metrics: the web apps time their requests; a worker's counters move as it publishes, consumes,
retries and dead-letters, and a worker process serves them on its own port."""

import socket
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from ates import metrics
from ates.config import load_settings
from tests.conftest import eventually
from tests.integration.test_bus import wait_for_queue
from tests.probe import QUEUE, task_completed, task_created

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str, name: str, **labels) -> float | None:
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(
                found.labels.get(key) == value for key, value in labels.items()
            ):
                return found.value
    return None


def test_web_metrics_show_each_request_by_its_route_template(tmp_path):
    from tracker.app import create_app

    client = create_app(load_settings("tracker", {"ATES_VAR_DIR": str(tmp_path)})).test_client()
    client.application.test_cli_runner().invoke(args=["migrate"], catch_exceptions=False)
    task = {"method": "GET", "route": "/api/tasks/<task_id>", "status": "401"}
    before = sample("ates_http_request_seconds_count", **task)
    assert client.get("/healthz").status_code == 200
    assert (
        client.get("/api/tasks/1234").status_code == 401
    )  # the template, not the raw path, is the label
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    assert scraped(answer.text, "ates_http_request_seconds_count", **task) == before + 1
    assert (
        scraped(
            answer.text,
            "ates_http_request_seconds_count",
            method="GET",
            route="/healthz",
            status="200",
        )
        >= 1
    )
    assert (
        scraped(
            answer.text,
            "ates_http_request_seconds_bucket",
            method="GET",
            route="/healthz",
            status="200",
            le="+Inf",
        )
        >= 1
    )


@pytest.mark.broker
def test_worker_counters_move_as_events_are_published_consumed_retried_and_dead_lettered(
    probe, start, broker
):
    published = {"exchange": "tracker.events", "routing_key": "task.created.v2"}
    consumed = {"queue": QUEUE, "type": "task.created"}
    before = {
        "published": sample("ates_events_published_total", **published),
        "consumed": sample("ates_events_consumed_total", **consumed),
        "retried": sample("ates_events_retried_total", queue=QUEUE),
        "not_json": sample("ates_events_dead_lettered_total", queue=QUEUE, reason_kind="not_json"),
        "handled": sample("ates_handler_seconds_count", queue=QUEUE),
    }
    start(probe.consumer())
    wait_for_queue(broker)
    probe.publish(
        task_created(), task_created(), task_completed("7d0b1f4c-1b8e-4d7b-9a43-0c5b7b0d7c11")
    )
    relay = start(probe.relay(backlog_interval=0.0))
    broker.publish_raw("tracker.events", "task.created.v2", b"{not json")

    eventually(
        lambda: sample("ates_events_consumed_total", **consumed) == before["consumed"] + 2,
        message="two task.created consumed",
    )
    eventually(
        lambda: sample("ates_events_retried_total", queue=QUEUE) >= before["retried"] + 1,
        message="the completion of an unknown task retried",
    )
    eventually(
        lambda: (
            sample("ates_events_dead_lettered_total", queue=QUEUE, reason_kind="not_json")
            == before["not_json"] + 1
        ),
        message="the broken message dead-lettered",
    )
    assert sample("ates_events_published_total", **published) == before["published"] + 2
    assert sample("ates_handler_seconds_count", queue=QUEUE) >= before["handled"] + 2
    eventually(
        lambda: sample("ates_outbox_backlog", producer=relay.producer) == 0,
        message="an empty backlog",
    )
    assert sample("ates_outbox_oldest_age_seconds", producer=relay.producer) == 0


def test_the_backlog_gauges_show_rows_waiting_for_the_relay(probe):
    probe.publish(task_created(), task_created())
    relay = probe.relay()
    relay._measure_backlog()  # what its poll does once a second
    assert sample("ates_outbox_backlog", producer="tracker") == 2
    assert 0 <= sample("ates_outbox_oldest_age_seconds", producer="tracker") < 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_worker_serves_its_metrics_on_its_port():
    port = free_port()
    server = metrics.serve_worker_metrics(
        "tracker", {"ATES_TRACKER_WORKER_METRICS_PORT": str(port)}
    )
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "# TYPE ates_events_consumed_total counter" in text
        assert (
            metrics.serve_worker_metrics("tracker", {"ATES_TRACKER_WORKER_METRICS_PORT": str(port)})
            is None
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("value, port", [(None, 9102), ("", None), ("0", None), ("9200", 9200)])
def test_the_worker_metrics_port_is_the_default_a_chosen_one_or_none(value, port):
    env = {} if value is None else {"ATES_TRACKER_WORKER_METRICS_PORT": value}
    assert metrics.worker_metrics_port("tracker", env) == port


def test_an_invented_method_does_not_become_a_label_of_its_own(tmp_path):
    from tracker.app import create_app

    client = create_app(load_settings("tracker", {"ATES_VAR_DIR": str(tmp_path)})).test_client()
    before = sample(
        "ates_http_request_seconds_count", method="other", route="unmatched", status="405"
    )
    client.open("/healthz", method="PARROT")
    assert (
        sample("ates_http_request_seconds_count", method="other", route="unmatched", status="405")
        == before + 1
    )
