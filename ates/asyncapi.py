"""The event catalogue as AsyncAPI 3 (`docs/asyncapi.yaml`), generated from `event_schemas/` and
the topology the services declare, so that it cannot drift from either.

`python -m ates.asyncapi` rewrites the file; `python -m ates.asyncapi --check` fails when the
file is stale (CI runs the check as a test). The services' subscriptions are read from their
`handlers` modules, imported by name: the shared package knows the services only here, in a tool.
"""

import argparse
import importlib
import sys

import yaml

from ates.bus import topology
from ates.config import DEFAULT_AMQP_URL, DEFAULT_RETRY_DELAYS_MS, ROOT
from ates.schemas import SchemaRegistry, registry

DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
CONSUMERS = ("tracker", "accounting", "analytics", "notifier")  # services with a handlers module
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"


def asyncapi_document(
    schemas: SchemaRegistry,
    subscriptions: list[topology.Subscription],
    retry_delays_ms=DEFAULT_RETRY_DELAYS_MS,
) -> dict:
    messages, channels, operations = {}, {}, {}
    for event_type, version in schemas.versions():
        producer = schemas.producer_of(event_type)
        routing_key = f"{event_type}.v{version}"
        schema = schemas.schema(event_type, version)
        name = _name(routing_key)
        messages[name] = {
            "name": routing_key,
            "title": f"{event_type} v{version}",
            "summary": schema.get("description", ""),
            "contentType": "application/cloudevents+json",
            "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": _without_examples(schema)},
            "examples": [{"payload": example} for example in schema.get("examples", [])],
            "bindings": {"amqp": {"messageType": event_type, "bindingVersion": "0.3.0"}},
        }
        channels[name] = {
            "address": routing_key,
            "description": f"{event_type} v{version}, published by {producer} "
            f"on {topology.exchange_name(producer)}",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": topology.exchange_name(producer),
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[f"publish_{name}"] = {
            "action": "send",
            "summary": f"{producer} publishes {event_type} v{version} through its outbox, "
            "with publisher confirms",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
        }
    for subscription in sorted(subscriptions, key=lambda s: s.queue):
        queue = subscription.queue
        name = _name(queue)
        keys = sorted(subscription.routing_keys)
        channels[name] = {
            "address": queue,
            "description": (
                f"{subscription.consumer}'s quorum queue for {subscription.producer}'s events, bound by "
                f"{', '.join(keys)}. Not yet applicable events wait in "
                f"{_wait_queues(queue, retry_delays_ms)} "
                f"and come back; what cannot be applied lands in {topology.dead_queue_name(queue)} with the "
                "reason in the header ates-reason."
            ),
            "messages": {
                _name(key): {"$ref": f"#/components/messages/{_name(key)}"} for key in keys
            },
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": queue,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[f"consume_{name}"] = {
            "action": "receive",
            "summary": f"{subscription.consumer} applies {subscription.producer}'s events once (inbox), "
            "acking after its transaction commits",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{_name(key)}"} for key in keys],
            "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "aTES events",
            "version": "1",
            "description": (
                "Every event of aTES: CloudEvents 1.0 structured JSON messages, one topic exchange per "
                "producer (<producer>.events), routing key <type>.v<dataversion>, one quorum queue per "
                "consumer and producer (<consumer>.<producer>). Generated by `python -m ates.asyncapi` from "
                "event_schemas/ and the services' handlers; do not edit by hand."
            ),
        },
        "servers": {
            "development": {
                "host": DEFAULT_AMQP_URL.split("@", 1)[1].split("/", 1)[0],
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "the RabbitMQ of `bin/up` (guest/guest)",
            }
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def current_subscriptions() -> list[topology.Subscription]:
    found = []
    for service in CONSUMERS:
        found.extend(importlib.import_module(f"{service}.handlers").handlers.subscriptions())
    return found


def render(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _name(address: str) -> str:
    return address.replace(".", "_")


def _wait_queues(queue: str, retry_delays_ms) -> str:
    return ", ".join(topology.wait_queue_name(queue, delay) for delay in retry_delays_ms)


def _without_examples(schema: dict) -> dict:
    """The schema as one self-contained object: its local `#/$defs/...` references written out
    (they would point into the AsyncAPI document's root once embedded), no examples, no `$id`."""
    definitions = schema.get("$defs", {})

    def inline(node):
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        reference = node.get("$ref", "")
        if reference.startswith("#/$defs/"):
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return inline({**definitions[reference.removeprefix("#/$defs/")], **rest})
        return {key: inline(value) for key, value in node.items()}

    return inline(
        {key: value for key, value in schema.items() if key not in ("examples", "$defs", "$id")}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ates.asyncapi", description="Write docs/asyncapi.yaml."
    )
    parser.add_argument(
        "--check", action="store_true", help="only say whether the file is up to date"
    )
    args = parser.parse_args(argv)
    text = render(asyncapi_document(registry(), current_subscriptions()))
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != text:
            print(
                f"{DOCUMENT.relative_to(ROOT)} is stale: run python -m ates.asyncapi",
                file=sys.stderr,
            )
            return 1
        print(f"{DOCUMENT.relative_to(ROOT)} is up to date")
        return 0
    DOCUMENT.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
