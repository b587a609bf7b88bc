"""docs/asyncapi.yaml is generated from event_schemas/ and the services' handlers, and is current."""

import yaml

from ates import asyncapi
from ates.schemas import registry


def test_the_committed_document_is_what_the_generator_writes_now():
    assert asyncapi.main(["--check"]) == 0, "run: python -m ates.asyncapi"


def test_every_event_version_has_a_channel_on_its_producers_exchange():
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text())
    schemas = registry()
    for event_type, version in schemas.versions():
        channel = document["channels"][f"{event_type}.v{version}".replace(".", "_")]
        assert channel["address"] == f"{event_type}.v{version}"
        assert (
            channel["bindings"]["amqp"]["exchange"]["name"]
            == f"{schemas.producer_of(event_type)}.events"
        )


def test_every_consumer_queue_is_a_channel_with_the_events_it_is_bound_to():
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text())
    for subscription in asyncapi.current_subscriptions():
        channel = document["channels"][subscription.queue.replace(".", "_")]
        assert channel["bindings"]["amqp"]["queue"]["name"] == subscription.queue
        assert f"{subscription.queue}.dead" in channel["description"]
        assert set(channel["messages"]) == {
            key.replace(".", "_") for key in subscription.routing_keys
        }


def test_embedded_schemas_hold_no_reference_into_their_old_file():
    assert "#/$defs/" not in asyncapi.DOCUMENT.read_text()
