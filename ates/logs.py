"""Logs: one JSON object per line on stderr, with the service, the process and the correlation id.

`configure_logging(service, process)` is called once by every aTES process (web app, worker,
scheduler). `ATES_LOG_FORMAT=text` gives a human format for development instead. gunicorn's own
error and access logs become JSON too through `GunicornLogger` (named in gunicorn.conf.py).
"""

import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime

from ates import correlation

_CONFIGURED = "_ates_configured"


class JsonFormatter(logging.Formatter):
    """time, level, service, process, logger, message, correlation_id (when set), exc_info (when any),
    plus the fields of a record's `fields` dict (e.g. those of an access-log line)."""

    def __init__(self, service: str, process: str):
        super().__init__()
        self.service, self.process = service, process

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "service": self.service,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = getattr(record, "correlation_id", None) or correlation.current()
        if correlation_id:
            line["correlation_id"] = correlation_id
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The development format: readable, with the correlation id in brackets when there is one."""

    def __init__(self, service: str, process: str):
        super().__init__(f"%(asctime)s {service}-{process} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        correlation_id = getattr(record, "correlation_id", None) or correlation.current()
        return f"{text} [{correlation_id}]" if correlation_id else text


def log_format(env=None) -> str:
    env = os.environ if env is None else env
    chosen = env.get("ATES_LOG_FORMAT", "json").strip().lower() or "json"
    if chosen not in ("json", "text"):
        raise ValueError(f"ATES_LOG_FORMAT must be json or text, got {chosen!r}")
    return chosen


def formatter(service: str, process: str, env=None) -> logging.Formatter:
    return (JsonFormatter if log_format(env) == "json" else TextFormatter)(service, process)


def configure_logging(
    service: str, process: str, level: int = logging.INFO, stream=None, force: bool = True
) -> None:
    """The root logger writes to stderr in the chosen format; a second call replaces the first.

    `force=False` leaves alone a root logger that already has handlers: a web app built inside a
    test runner (or another host that set up logging) keeps the host's logging, as basicConfig would.
    """
    root = logging.getLogger()
    if not force and any(not getattr(handler, _CONFIGURED, False) for handler in root.handlers):
        return
    for handler in list(root.handlers):
        if getattr(handler, _CONFIGURED, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter(service, process))
    setattr(handler, _CONFIGURED, True)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO narrates every socket state


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (a test runner swaps it per test)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


try:  # gunicorn is there wherever a web service runs; a worker process does not need it
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = object


class GunicornLogger(_GunicornLogger):
    """gunicorn's error and access logs in the same format as the app's; an access line is
    `METHOD path status` with the request's fields (and its correlation id) as JSON keys."""

    def setup(self, cfg):
        super().setup(cfg)
        service = _service_of(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter(service, "web"))

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in resp.headers}
        fields = {
            "http": {
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING") or None,
                "status": int(status),
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "bytes": getattr(resp, "sent", None),
                "remote": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
            },
        }
        try:
            self.access_log.info(
                "%s %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("RAW_URI"),
                status,
                extra={"fields": fields, "correlation_id": headers.get("x-correlation-id")},
            )
        except Exception:
            self.error(traceback.format_exc())


def _service_of(cfg) -> str:
    """`tracker.app:create_app()` → tracker: the service is the app module's package."""
    app_uri = (
        getattr(cfg, "wsgi_app", None) or getattr(cfg, "default_proc_name", None) or "gunicorn"
    )
    return str(app_uri).split(":", 1)[0].split(".", 1)[0] or "gunicorn"
