"""ATES_AMQP_URL with several nodes: every client reads the same list, credentials go on each node."""

import pytest

from ates.bus.nodes import BrokerNodes, node_urls
from ates.bus.users import credentials_of, management_urls_for, with_credentials
from ates.config import DEFAULT_QUORUM_SIZE, load_settings

THREE = "amqp://a:b@rabbit-1:5672/ates, amqp://a:b@rabbit-2:5673/ates,amqp://a:b@rabbit-3/ates"


def test_one_url_is_one_node():
    assert node_urls("amqp://guest:guest@localhost:5672/%2F") == [
        "amqp://guest:guest@localhost:5672/%2F"
    ]


def test_several_urls_are_the_nodes_in_the_order_given():
    assert [(p.host, p.port) for p in BrokerNodes(THREE).parameters] == [
        ("rabbit-1", 5672),
        ("rabbit-2", 5673),
        ("rabbit-3", 5672),
    ]


@pytest.mark.parametrize("text", ["", " , ", ","])
def test_no_node_at_all_is_refused(text):
    with pytest.raises(ValueError, match="at least one broker node"):
        node_urls(text)


def test_each_node_signs_in_as_the_service():
    signed = with_credentials(THREE, "ates-tracker", "p,w/d")
    assert node_urls(signed) == [
        "amqp://ates-tracker:p%2Cw%2Fd@rabbit-1:5672/ates",
        "amqp://ates-tracker:p%2Cw%2Fd@rabbit-2:5673/ates",
        "amqp://ates-tracker:p%2Cw%2Fd@rabbit-3/ates",
    ]
    assert [p.credentials.password for p in BrokerNodes(signed).parameters] == ["p,w/d"] * 3
    assert credentials_of(signed) == ("ates-tracker", "p,w/d")


def test_a_service_settings_url_lists_every_node():
    env = {"ATES_AMQP_URL": THREE, "ATES_AMQP_PASSWORD_AUTH": "s3cret"}
    assert load_settings("auth", env).amqp_url.count("ates-auth:s3cret@") == 3


def test_options_are_set_on_every_node():
    nodes = BrokerNodes(THREE, blocked_connection_timeout=30)
    assert [p.blocked_connection_timeout for p in nodes.parameters] == [30, 30, 30]


def test_after_a_lost_node_the_next_one_is_tried_first_and_the_turn_goes_round():
    nodes = BrokerNodes(THREE)
    seen = [nodes.current().host]
    for _ in range(3):
        nodes.lost()
        seen.append(nodes.current().host)
    assert seen == ["rabbit-1", "rabbit-2", "rabbit-3", "rabbit-1"]


def test_a_connection_goes_to_the_first_node_that_answers(monkeypatch):
    import pika

    tried = []

    def connect(parameters):
        tried.append(parameters.host)
        if parameters.host != "rabbit-3":
            raise pika.exceptions.AMQPConnectionError("refused")
        return "connected"

    monkeypatch.setattr(pika, "BlockingConnection", connect)
    nodes = BrokerNodes(THREE)
    assert nodes.blocking_connection() == "connected"
    assert tried == ["rabbit-1", "rabbit-2", "rabbit-3"]
    assert nodes.current().host == "rabbit-3", "the node that answered is tried first next time"


def test_no_node_answering_raises_the_connection_error(monkeypatch):
    import pika

    def refuse(parameters):
        raise pika.exceptions.AMQPConnectionError(parameters.host)

    monkeypatch.setattr(pika, "BlockingConnection", refuse)
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        BrokerNodes(THREE).blocking_connection()


def test_the_management_api_is_looked_for_on_every_node_unless_set():
    assert management_urls_for(THREE, env={}) == [
        "http://rabbit-1:15672",
        "http://rabbit-2:15672",
        "http://rabbit-3:15672",
    ]
    given = {"ATES_RABBITMQ_MANAGEMENT_URL": "http://rabbit-lb:15672/"}
    assert management_urls_for(THREE, env=given) == ["http://rabbit-lb:15672"]


@pytest.mark.parametrize(("given", "size"), [(None, DEFAULT_QUORUM_SIZE), ("5", 5), ("1", 1)])
def test_the_quorum_size_is_a_setting(given, size):
    env = {"ATES_AMQP_QUORUM_SIZE": given} if given else {}
    assert load_settings("tracker", env).quorum_size == size


@pytest.mark.parametrize("given", ["0", "-3", "three"])
def test_a_quorum_size_that_is_no_count_of_nodes_stops_the_process(given):
    with pytest.raises(ValueError, match="ATES_AMQP_QUORUM_SIZE"):
        load_settings("tracker", {"ATES_AMQP_QUORUM_SIZE": given})
