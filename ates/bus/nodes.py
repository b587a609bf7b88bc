"""Where the broker is: `ATES_AMQP_URL` names one RabbitMQ node or several of one cluster, comma-separated.

Every client takes the same list and connects to the first node that answers; when its node goes
away, its next connection starts with the node after that one, so that clients move on instead of
knocking at the dead node first. A comma inside a URL (a password, say) must be written %2C.
"""

from __future__ import annotations

import logging

import pika
from pika.exceptions import AMQPConnectionError

log = logging.getLogger(__name__)


def node_urls(amqp_url: str) -> list[str]:
    """The URLs of the nodes, in the order given; at least one."""
    urls = [part.strip() for part in amqp_url.split(",") if part.strip()]
    if not urls:
        raise ValueError(f"ATES_AMQP_URL must name at least one broker node, got {amqp_url!r}")
    return urls


def join_urls(urls) -> str:
    return ",".join(urls)


class BrokerNodes:
    """The connection parameters of every node, and whose turn it is to be tried first.

    `options` (e.g. `blocked_connection_timeout=30`) are set on each node's parameters."""

    def __init__(self, amqp_url: str, **options):
        self.parameters = [pika.URLParameters(url) for url in node_urls(amqp_url)]
        for parameters in self.parameters:
            for name, value in options.items():
                setattr(parameters, name, value)
        self._turn = 0

    def __len__(self) -> int:
        return len(self.parameters)

    @property
    def first(self) -> pika.URLParameters:
        """Credentials, virtual host and frame size are the same on every node: read them here."""
        return self.parameters[0]

    def current(self) -> pika.URLParameters:
        """The node to try next (pika's SelectConnection takes one)."""
        return self.parameters[self._turn % len(self.parameters)]

    def lost(self) -> None:
        """The node of the last connection went away or did not answer: the next one begins further on."""
        self._turn = (self._turn + 1) % len(self.parameters)

    def describe(self) -> str:
        return ", ".join(f"{p.host}:{p.port}" for p in self.parameters)

    def blocking_connection(self) -> pika.BlockingConnection:
        """A connection to the first node, in turn, that answers; the one that did becomes the current.

        Raises the last node's AMQPConnectionError when none answers."""
        error: AMQPConnectionError | None = None
        for _ in range(len(self.parameters)):
            parameters = self.current()
            try:
                return pika.BlockingConnection(parameters)
            except AMQPConnectionError as refused:
                log.info(
                    "broker node %s:%s does not answer (%r)",
                    parameters.host,
                    parameters.port,
                    refused,
                )
                error = refused
                self.lost()
        assert error is not None
        raise error
