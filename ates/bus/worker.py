"""A service's worker process: its outbox relay and its consumer, declared and run together."""

import argparse
import logging
import sys

from sqlalchemy import Table

from ates import clock, logs, metrics
from ates.bus import topology
from ates.bus.consumer import Consumer
from ates.bus.handlers import Handlers
from ates.bus.inbox import Inbox
from ates.bus.nodes import BrokerNodes
from ates.bus.relay import OutboxRelay
from ates.bus.runner import run_until_signalled
from ates.config import Settings, load_settings
from ates.production import check_production
from ates.unit_of_work import UnitOfWork


def run_worker(
    service: str,
    outbox: Table | None,
    inbox: Table | None,
    handlers: Handlers | None,
    argv: list[str] | None = None,
    jobs=None,
) -> int:
    """`python -m <service>.worker` runs; `... declare` only declares the service's topology.

    `jobs(uow, settings)`, when given, returns more parts to run beside relay and consumer (a
    service's own background jobs: each has run() and a thread-safe stop()). The process's one
    unit of work and its settings are built here and handed to every part; handlers get the
    settings and the clock they name (ates/bus/handlers.py).
    """
    parser = argparse.ArgumentParser(prog=f"{service}.worker")
    parser.add_argument("command", nargs="?", choices=["run", "declare"], default="run")
    parser.add_argument(
        "--only",
        choices=["relay", "consumer"],
        help="run only the outbox relay, or everything but it (consumer and jobs): a relay in a "
        "process of its own publishes beside a busy consumer or job instead of taking turns with "
        "it for one interpreter lock",
    )
    given = parser.parse_args(argv)
    command = given.command
    logs.configure_logging(service, "worker")
    settings = load_settings(service)
    check_production(settings, process="worker")
    uow = UnitOfWork.from_url(settings.database_url)
    parts: list = []  # relay, consumer and jobs: each has run() and stop()
    if outbox is not None and given.only != "consumer":
        parts.append(
            OutboxRelay(service, outbox, uow, settings.amqp_url, wakeups=settings.outbox_wakeups)
        )
    if handlers is not None and handlers.subscriptions() and given.only != "relay":
        parts.append(
            Consumer(
                handlers,
                Inbox(_required(inbox, service), uow, handlers, handler_dependencies(settings)),
                settings.amqp_url,
                settings.retry_delays_ms,
                quorum_size=settings.quorum_size,
            )
        )
    if command == "declare":
        _declare(service if outbox is not None else None, settings.amqp_url, parts)
        return 0
    if jobs is not None and given.only != "relay":
        parts.extend(jobs(uow, settings))
    metrics.serve_worker_metrics(service)
    return run_until_signalled(*parts)


def _required(inbox: Table | None, service: str) -> Table:
    if inbox is None:
        raise ValueError(f"{service} has handlers but no inbox table")
    return inbox


def handler_dependencies(settings: Settings) -> dict[str, object]:
    """What a handler may name besides (session, event): the service's settings, the clock."""
    return {"settings": settings, "now": clock.utcnow}


def _declare(producer: str | None, amqp_url: str, parts) -> None:
    connection = BrokerNodes(amqp_url).blocking_connection()
    try:
        channel = connection.channel()
        if producer:
            topology.declare_exchange(channel, producer)
        for part in parts:
            if isinstance(part, Consumer):
                channel = part.declare(channel)
    finally:
        connection.close()
    logging.getLogger(__name__).info(
        "topology declared for %s", [type(part).__name__ for part in parts]
    )


def main(service: str, outbox, inbox, handlers, jobs=None) -> None:
    sys.exit(run_worker(service, outbox, inbox, handlers, jobs=jobs))
