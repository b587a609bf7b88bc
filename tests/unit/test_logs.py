"""Logs are one JSON object per line, with the service, the process and the correlation id."""

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from ates import correlation, logs


@pytest.fixture
def captured(monkeypatch):
    """The root logger configured as a worker's, writing into a buffer; restored afterwards."""
    monkeypatch.delenv("ATES_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    logs.configure_logging("tracker", "worker", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_line_is_json_with_every_field(captured):
    with correlation.correlated("req-1"):
        logging.getLogger("tracker.service").info("task %s created", "t-1")
    (line,) = lines(captured)
    assert {
        key: line[key]
        for key in ("level", "service", "process", "logger", "message", "correlation_id")
    } == {
        "level": "INFO",
        "service": "tracker",
        "process": "worker",
        "logger": "tracker.service",
        "message": "task t-1 created",
        "correlation_id": "req-1",
    }
    logged_at = datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
    assert line["time"].endswith("Z") and abs(datetime.now(UTC) - logged_at) < timedelta(seconds=5)


def test_without_a_correlation_id_the_field_is_left_out(captured):
    logging.getLogger("x").warning("plain")
    (line,) = lines(captured)
    assert "correlation_id" not in line and line["level"] == "WARNING"


def test_an_exception_is_one_line_with_its_traceback(captured):
    try:
        raise ValueError("parrots escaped")
    except ValueError:
        logging.getLogger("x").exception("handler failed")
    (line,) = lines(captured)
    assert line["message"] == "handler failed"
    assert "Traceback" in line["exc_info"] and "ValueError: parrots escaped" in line["exc_info"]


def test_a_correlation_id_given_with_the_record_wins(captured):
    with correlation.correlated("current"):
        logging.getLogger("x").info("dead-lettered", extra={"correlation_id": "of-the-message"})
    assert lines(captured)[0]["correlation_id"] == "of-the-message"


def test_configuring_twice_does_not_log_twice(captured):
    logs.configure_logging("tracker", "worker", stream=captured)
    logging.getLogger("x").info("once")
    assert len(lines(captured)) == 1


def test_text_format_for_development(monkeypatch, captured):
    monkeypatch.setenv("ATES_LOG_FORMAT", "text")
    logs.configure_logging("accounting", "scheduler", stream=captured)
    with correlation.correlated("req-2"):
        logging.getLogger("x").info("closed")
    text = captured.getvalue()
    assert "accounting-scheduler INFO x: closed [req-2]" in text


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="json or text"):
        logs.log_format({"ATES_LOG_FORMAT": "xml"})


def test_gunicorn_access_line_is_json_with_the_response_correlation_id(monkeypatch):
    monkeypatch.delenv("ATES_LOG_FORMAT", raising=False)
    from gunicorn.config import Config

    config = Config()
    config.set("accesslog", "-")
    config.set("default_proc_name", "tracker.app:create_app()")
    logger = logs.GunicornLogger(config)
    stream = io.StringIO()
    for handler in logger.access_log.handlers:
        handler.setStream(stream)
    response = SimpleNamespace(
        status="201 CREATED", headers=[("X-Correlation-Id", "req-3")], sent=42
    )
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/tasks",
        "RAW_URI": "/api/tasks",
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
    }
    logger.access(response, None, environ, timedelta(milliseconds=12))
    line = json.loads(stream.getvalue())
    assert (line["service"], line["process"], line["message"], line["correlation_id"]) == (
        "tracker",
        "web",
        "POST /api/tasks 201",
        "req-3",
    )
    assert line["http"]["status"] == 201 and line["http"]["duration_ms"] == 12.0


def test_a_web_app_leaves_a_hosts_logging_alone(monkeypatch):
    root = logging.getLogger()
    host = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(root, "handlers", [host])
    logs.configure_logging("tracker", "web", force=False)
    assert root.handlers == [host]
    monkeypatch.setattr(root, "handlers", [])
    logs.configure_logging("tracker", "web", force=False, stream=io.StringIO())
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, logs.JsonFormatter)
