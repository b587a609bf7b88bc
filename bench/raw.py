"""Raw pika publishing, the baselines the benchmarks compare with.

confirmed    the fastest *reliable* way: persistent messages with publisher confirms, up to
             `window` unconfirmed at once (pipelined, as the outbox relay does), done when the
             broker has confirmed the last one;
unconfirmed  fire and forget: no confirms, so nothing says the broker has them (for reference
             only; nothing in aTES may publish so).

Where to and how (`to`): a queue's name, for plain persistent messages through the default
exchange, or `Messages`: an exchange and each message's routing key and properties, as a
benchmark that compares with aTES's own messages needs (bench.reassign).
"""

import itertools
import time
from dataclasses import dataclass

import pika

CONFIRMED = "confirmed"
UNCONFIRMED = "unconfirmed"
WINDOW = 1000  # unconfirmed at once (the relay allows up to 2,000: more did not help raw)
PERSISTENT = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)


@dataclass(frozen=True)
class Messages:
    """An exchange, and the (routing key, properties) of the messages, used in turn."""

    exchange: str
    keys_and_properties: list[tuple[str, pika.BasicProperties]]


def _messages(to: "str | Messages") -> tuple[str, "itertools.cycle"]:
    if isinstance(to, str):  # a queue, through the default exchange
        return "", itertools.cycle([(to, PERSISTENT)])
    return to.exchange, itertools.cycle(to.keys_and_properties)


def declare_queue(amqp_url: str, queue: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        connection.channel().queue_declare(
            queue, durable=True, arguments={"x-queue-type": "quorum"}
        )


def publish_unconfirmed(amqp_url: str, to: "str | Messages", count: int, body: bytes) -> float:
    """Seconds to hand `count` persistent messages to the connection, without confirms."""
    exchange, messages = _messages(to)
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        started = time.perf_counter()
        for _ in range(count):
            routing_key, properties = next(messages)
            channel.basic_publish(exchange, routing_key, body, properties)
        connection.process_data_events(0)
        return time.perf_counter() - started


def publish_confirmed(
    amqp_url: str, to: "str | Messages", count: int, body: bytes, window: int = WINDOW
) -> float:
    """Seconds until the broker has confirmed `count` persistent messages, published with up to
    `window` unconfirmed at a time on pika's asynchronous connection."""
    exchange, messages = _messages(to)
    state = {"published": 0, "confirmed": 0, "started": 0.0, "elapsed": None, "error": None}

    def publish_more(channel):
        while state["published"] < count and state["published"] - state["confirmed"] < window:
            routing_key, properties = next(messages)
            channel.basic_publish(exchange, routing_key, body, properties)
            state["published"] += 1

    low, above = [0], set()  # every tag <= low is confirmed, and those in `above`

    def on_confirm(frame, channel):
        tag = frame.method.delivery_tag
        if isinstance(frame.method, pika.spec.Basic.Nack):
            state["error"] = f"the broker refused message {tag}"
        if frame.method.multiple:
            low[0] = max(low[0], tag)
            above.difference_update(range(0, low[0] + 1))
        else:
            above.add(tag)
        while low[0] + 1 in above:
            low[0] += 1
            above.discard(low[0])
        state["confirmed"] = low[0] + len(above)
        if state["confirmed"] >= count:
            state["elapsed"] = time.perf_counter() - state["started"]
            channel.connection.close()
        else:
            publish_more(channel)

    def on_channel(channel):
        def confirming(_frame):
            state["started"] = time.perf_counter()
            publish_more(channel)

        channel.confirm_delivery(lambda frame: on_confirm(frame, channel), callback=confirming)

    def on_open(connection):
        connection.channel(on_open_callback=on_channel)

    connection = pika.SelectConnection(
        pika.URLParameters(amqp_url),
        on_open_callback=on_open,
        on_open_error_callback=lambda _c, error: state.update(error=str(error)),
        on_close_callback=lambda c, _reason: c.ioloop.stop(),
    )
    connection.ioloop.start()
    if state["error"] or state["elapsed"] is None:
        raise RuntimeError(f"confirmed publishing failed: {state['error'] or 'closed early'}")
    return state["elapsed"]
