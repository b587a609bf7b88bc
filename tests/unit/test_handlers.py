"""Handler registration, the subscriptions it implies, and the SPEC §5 names of exchanges and queues."""

import pytest

from ates.bus import Handlers
from ates.bus.topology import (
    Subscription,
    dead_queue_name,
    exchange_name,
    queue_name,
    wait_queue_name,
)
from ates.schemas import UnknownEventType


def on_anything(session, event):
    pass


@pytest.mark.parametrize(
    "event_type, version", [("task.exploded", 1), ("task.completed", 2), ("task.created", 3)]
)
def test_unknown_event_type_or_version_is_refused_at_registration(event_type, version):
    with pytest.raises(UnknownEventType):
        Handlers("analytics").on(event_type, version)


def test_second_handler_for_the_same_event_is_refused():
    handlers = Handlers("analytics")
    handlers.on("task.completed", 1)(on_anything)
    with pytest.raises(ValueError, match="twice"):
        handlers.on("task.completed", 1)(on_anything)


def test_registered_handler_is_found_by_type_and_version():
    handlers = Handlers("analytics")
    assert handlers.on("task.created", 2)(on_anything) is on_anything
    assert handlers.lookup("task.created", 2) is on_anything
    assert handlers.lookup("task.created", 1) is None


def test_subscriptions_group_routing_keys_by_producer():
    handlers = Handlers("analytics")
    for event_type, version in [
        ("task.priced", 1),
        ("task.completed", 1),
        ("account.created", 1),
        ("task.created", 2),
    ]:
        handlers.on(event_type, version)(on_anything)
    assert handlers.subscriptions() == [
        Subscription("analytics", "accounting", ("task.priced.v1",)),
        Subscription("analytics", "auth", ("account.created.v1",)),
        Subscription("analytics", "tracker", ("task.completed.v1", "task.created.v2")),
    ]
    assert [s.queue for s in handlers.subscriptions()] == [
        "analytics.accounting",
        "analytics.auth",
        "analytics.tracker",
    ]


def test_no_handlers_means_no_subscriptions():
    assert Handlers("analytics").subscriptions() == []


@pytest.mark.parametrize(
    "name, expected",
    [
        (exchange_name("tracker"), "tracker.events"),
        (queue_name("accounting", "tracker"), "accounting.tracker"),
        (dead_queue_name("accounting.tracker"), "accounting.tracker.dead"),
        (wait_queue_name("accounting.tracker", 1000), "accounting.tracker.delay.1000ms"),
    ],
)
def test_topology_names_follow_the_spec(name, expected):
    assert name == expected
