"""The broker users' permissions (ates/bus/users.py): what each may touch, by name, and that the
read permissions follow what each service really consumes."""

import re

import pytest

from accounting.handlers import handlers as accounting
from analytics.handlers import handlers as analytics
from ates.bus.provision import BrokerAdmin, passwords_for
from ates.bus.users import CONSUMES, OPERATOR, Identity, permissions, with_credentials
from notifier.handlers import handlers as notifier
from tracker.handlers import handlers as tracker

HANDLERS = {
    "tracker": tracker,
    "accounting": accounting,
    "analytics": analytics,
    "notifier": notifier,
}


def allowed(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ matches unanchored, like re.search


@pytest.mark.parametrize("service", sorted(HANDLERS))
def test_each_service_may_read_exactly_the_producers_it_has_handlers_for(service):
    consumed = {subscription.producer for subscription in HANDLERS[service].subscriptions()}
    assert set(CONSUMES[service]) == consumed
    read = permissions(service).read
    for producer in ("auth", "tracker", "accounting", "analytics", "notifier"):
        assert allowed(read, f"{producer}.events") is (producer in consumed or producer == service)


@pytest.mark.parametrize(
    "name, writes",
    [
        ("accounting.events", True),
        ("accounting.retry", True),
        ("accounting.dead", True),
        ("accounting.tracker", True),  # binding its own queue needs write on it
        ("tracker.events", False),
        ("auth.events", False),
        ("analytics.retry", False),
        ("amq.default", False),
        ("", False),
        ("accountingx.events", False),
        ("x.accounting.events", False),
    ],
)
def test_a_service_writes_only_names_of_its_own(name, writes):
    assert allowed(permissions("accounting").write, name) is writes
    assert allowed(permissions("accounting").configure, name) is writes


@pytest.mark.parametrize(
    "name, reads",
    [
        ("accounting.tracker.dead", True),
        ("analytics.auth.dead", True),
        ("accounting.tracker", False),
        ("tracker.events", False),
        ("accounting.tracker.delay.1000ms", False),
    ],
)
def test_the_operator_reads_dead_letters_only_and_configures_nothing(name, reads):
    operator = permissions(OPERATOR)
    assert allowed(operator.read, name) is reads
    assert not allowed(operator.configure, name)


@pytest.mark.parametrize(
    "name, writes",
    [
        ("accounting.retry", True),
        ("analytics.retry", True),
        ("accounting.events", False),
        ("amq.default", False),
    ],
)
def test_the_operator_writes_only_retry_exchanges(name, writes):
    assert allowed(permissions(OPERATOR).write, name) is writes


def test_an_identity_knows_every_other_user_by_its_prefix():
    identity = Identity.of("staging-accounting", "accounting")
    assert (identity.user, identity.user_of("tracker")) == ("staging-accounting", "staging-tracker")
    with pytest.raises(ValueError, match="<prefix>accounting"):
        Identity.of("guest", "accounting")


def test_credentials_are_put_into_a_url_escaped_and_the_old_ones_dropped():
    assert (
        with_credentials("amqp://guest:guest@rabbit:5672/%2F", "ates-auth", "p@ss/word")
        == "amqp://ates-auth:p%40ss%2Fword@rabbit:5672/%2F"
    )
    assert (
        with_credentials("amqps://rabbit/ates", "ates-auth", "x")
        == "amqps://ates-auth:x@rabbit/ates"
    )


def test_provisioning_keeps_development_passwords_and_takes_production_ones_from_the_environment(
    tmp_path,
):
    made = passwords_for({}, tmp_path, production=False, prefix="ates-")
    assert set(made) == {"auth", "tracker", "accounting", "analytics", "notifier", OPERATOR}
    assert passwords_for({}, tmp_path, production=False, prefix="ates-") == made, (
        "made once, then kept"
    )
    given = {f"ATES_AMQP_PASSWORD_{name.upper()}": f"{name}-secret" for name in made}
    assert (
        passwords_for(given, tmp_path, production=True, prefix="ates-")["tracker"]
        == "tracker-secret"
    )
    with pytest.raises(SystemExit, match="ATES_AMQP_PASSWORD_OPERATOR"):
        passwords_for(
            {**given, "ATES_AMQP_PASSWORD_OPERATOR": ""}, tmp_path, production=True, prefix="ates-"
        )


def test_provisioning_waits_for_the_management_api_and_then_says_what_is_wrong():
    nobody_listens = BrokerAdmin("http://127.0.0.1:1", "guest", "guest")
    with pytest.raises(RuntimeError, match="did not answer within 1s; is its plugin on"):
        nobody_listens.wait_until_up(timeout=1)


@pytest.mark.parametrize(
    ("version", "lifted"),
    [("3.10.8", False), ("3.13.7", False), ("4.0.5", True), ("4.1.0-rc.1", True), ("x", False)],
)
def test_the_dead_queues_delivery_limit_is_lifted_from_rabbitmq_4_on(version, lifted):
    from ates.bus.provision import dead_letter_policy

    policy = dead_letter_policy(version)
    assert (policy is not None) is lifted
    if lifted:
        assert policy["definition"] == {"delivery-limit": -1}
        assert policy["apply-to"] == "quorum_queues"
        assert re.search(policy["pattern"], "accounting.tracker.dead")
        assert not re.search(policy["pattern"], "accounting.tracker")


def test_provisioning_puts_the_policy_on_a_4x_broker_and_nothing_on_3x():
    from ates.bus.provision import DEAD_LETTER_POLICY, keep_dead_letters

    class Broker:  # the management API's two answers that matter here
        def __init__(self, version):
            self._version, self.policies = version, {}

        def version(self):
            return self._version

        def put_policy(self, vhost, name, definition):
            self.policies[(vhost, name)] = definition

    old, new = Broker("3.10.8"), Broker("4.0.5")
    keep_dead_letters(old, "v"), keep_dead_letters(new, "v")
    assert old.policies == {} and list(new.policies) == [("v", DEAD_LETTER_POLICY)]
