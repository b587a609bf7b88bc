"""Prometheus metrics: what the bus and the web apps count and time, and where they are served.

Web services serve `GET /metrics` on their own port (`init_app`); a worker process serves its
metrics on `ATES_<SERVICE>_WORKER_METRICS_PORT` (`serve_worker_metrics`). Every metric lives in
prometheus_client's default registry, one per process; under gunicorn with several worker
processes, set PROMETHEUS_MULTIPROC_DIR and /metrics adds up every process's numbers.

Who may read them, everywhere alike: with ATES_METRICS_TOKEN set, only `Authorization: Bearer
<token>`; production refuses to start without one (docs/observability.md).
"""

import hmac
import json
import logging
import os
import socket
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    make_wsgi_app,
)

from ates.config import Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_WORKER_PORTS = {
    "auth": 9101,
    "tracker": 9102,
    "accounting": 9103,
    "analytics": 9104,
    "notifier": 9105,
}
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MIN_TOKEN_LENGTH = 24
REFUSED = {
    "error": "invalid_token",
    "message": "metrics need Authorization: Bearer <token>, "
    "the token being this service's ATES_METRICS_TOKEN",
}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

EVENTS_PUBLISHED = Counter(
    "ates_events_published",
    "Events the relay published and the broker confirmed.",
    ["exchange", "routing_key"],
)
EVENTS_CONSUMED = Counter(
    "ates_events_consumed",
    "Events a consumer applied (or found applied already) and acked.",
    ["queue", "type"],
)
EVENTS_RETRIED = Counter(
    "ates_events_retried", "Messages sent round the retry path (a wait queue).", ["queue"]
)
EVENTS_DEAD_LETTERED = Counter(
    "ates_events_dead_lettered",
    "Messages moved to <queue>.dead, by kind of reason.",
    ["queue", "reason_kind"],
)
OUTBOX_BACKLOG = Gauge(
    "ates_outbox_backlog",
    "Outbox rows not yet confirmed by the broker.",
    ["producer"],
    multiprocess_mode="max",
)
OUTBOX_OLDEST_AGE = Gauge(
    "ates_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0: none).",
    ["producer"],
    multiprocess_mode="max",
)
HANDLER_SECONDS = Histogram(
    "ates_handler_seconds",
    "Time one event's handler took (inside its batch's transaction).",
    ["queue"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SECONDS = Histogram(
    "ates_consumer_batch_seconds",
    "Time a consumer took to apply and commit one batch.",
    ["consumer"],
    buckets=LATENCY_BUCKETS,
)
HTTP_SECONDS = Histogram(
    "ates_http_request_seconds",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)


class MetricsUnprotected(RuntimeError):
    """Production would serve its metrics to anybody who can reach the port."""


def required_token(settings: Settings) -> str | None:
    """The token a scraper must send; None: anybody may read (outside production, none set)."""
    token = settings.metrics_token
    if settings.is_production and (token is None or len(token) < MIN_TOKEN_LENGTH):
        raise MetricsUnprotected(
            f"{settings.service} refuses to start in production without ATES_METRICS_TOKEN "
            f"(at least {MIN_TOKEN_LENGTH} characters): /metrics would be open to anybody "
            "who reaches the port"
        )
    return token


def _authorised(authorization: str | None, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


# -- web ------------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Time every request (by its route template, never its raw path) and serve `GET /metrics`."""
    app.extensions["ates.metrics_token"] = required_token(app.config["ATES"])
    app.before_request(_start_timer)
    app.after_request(_observe_request)
    app.add_url_rule("/metrics", "metrics", metrics_response)


def _start_timer() -> None:
    request.environ["ates.started"] = time.perf_counter()


def _observe_request(response):
    started = request.environ.get("ates.started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = (
            request.method if request.method in HTTP_METHODS else "other"
        )  # any word is a method to HTTP
        HTTP_SECONDS.labels(method, route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def metrics_response() -> Response:
    if not _authorised(
        request.headers.get("Authorization"), current_app.extensions["ates.metrics_token"]
    ):
        return Response(
            json.dumps(REFUSED),
            status=401,
            mimetype="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _registry():
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


# -- workers --------------------------------------------------------------------------------------


def worker_metrics_port(service: str, env=None) -> int | None:
    """`ATES_<SERVICE>_WORKER_METRICS_PORT`; unset → the service's default, empty or 0 → no server."""
    env = os.environ if env is None else env
    name = f"ATES_{service.upper()}_WORKER_METRICS_PORT"
    if name not in env:
        return DEFAULT_WORKER_PORTS.get(service)
    text = env[name].strip()
    if text in ("", "0"):
        return None
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a port number, empty or 0, got {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{name} must be a port number, empty or 0, got {text!r}")
    return port


def serve_worker_metrics(service: str, env=None):
    """Serve the process's metrics over HTTP on a daemon thread; the server, or None when off or taken.

    A port already taken is logged, not fatal: a worker without its metrics still moves the money.
    Production without ATES_METRICS_TOKEN is fatal (MetricsUnprotected), like at the web services.
    """
    env = os.environ if env is None else env
    port = worker_metrics_port(service, env)
    if port is None:
        return None
    token = required_token(load_settings(service, env))
    host = env.get("ATES_METRICS_HOST", "127.0.0.1")
    try:
        server = make_server(
            host,
            port,
            _worker_app(_registry(), token),
            _ServerV6 if ":" in host else _Server,
            handler_class=_QuietHandler,
        )
    except OSError as error:
        log.warning(
            "%s worker metrics cannot listen on %s:%d (%s); running without them",
            service,
            host,
            port,
            error,
        )
        return None
    threading.Thread(target=server.serve_forever, name=f"{service}-metrics", daemon=True).start()
    log.info("%s worker metrics at http://%s:%d/metrics", service, host, port)
    return server


def _worker_app(registry, token: str | None):
    """/metrics behind the token; /healthz open, for a container's health check (it says nothing but ok)."""
    metrics_app = make_wsgi_app(registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if not _authorised(environ.get("HTTP_AUTHORIZATION"), token):
            return _json(
                start_response, "401 Unauthorized", REFUSED, [("WWW-Authenticate", "Bearer")]
            )
        return metrics_app(environ, start_response)

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the worker's exit


class _ServerV6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(
        self, format, *args
    ):  # a scrape every 15 s is no news; the JSON logs stay clean
        pass


def _json(start_response, status: str, body: dict, headers=()):
    start_response(status, [("Content-Type", "application/json"), *headers])
    return [json.dumps(body).encode()]
