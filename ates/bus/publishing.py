"""What the relay puts on the wire: an outbox row's AMQP properties, and the connection that hands
pika's transport a look's messages as one piece (ates/bus/relay.py publishes with both;
ates/bus/testing.py publishes test messages with the same properties)."""

import contextlib

import pika

from ates.bus.events import correlation_id_of


def message_properties(row, producer: str, user: str) -> pika.BasicProperties:
    """The AMQP properties an outbox row is published with (`row`: event_id, event_type, body)."""
    return pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type="application/cloudevents+json; charset=utf-8",
        message_id=row.event_id,
        type=row.event_type,
        app_id=producer,
        user_id=user,  # the broker refuses it unless it is the connection's own user
        correlation_id=correlation_id_of(row.body),
    )


class PublishingConnection(pika.SelectConnection):
    """pika's asynchronous connection, handing the transport a look's messages as one piece:
    pika sends each piece it is given with a system call of its own, and a call per message
    (three, before: method, header and body frames) was the relay's largest single cost
    (bench.reassign). Inside `together()` the frames wait and go to the transport at its end;
    outside it (the lease, confirm mode, heartbeats) each call's frames go at once."""

    _waiting: list[bytes] | None = None

    @contextlib.contextmanager
    def together(self):
        self._waiting = []
        try:
            yield
        finally:
            data, self._waiting = b"".join(self._waiting), None
            if data and self.is_open:
                self._adapter_emit_data(data)

    def _output_marshaled_frames(self, marshaled_frames) -> None:
        data = b"".join(marshaled_frames)
        self.bytes_sent += len(data)
        self.frames_sent += len(marshaled_frames)
        if self._waiting is not None:
            self._waiting.append(data)
        else:
            self._adapter_emit_data(data)
