"""bench.reassign's raw side publishes what the job publishes, to where the job's events go: the
tracker's exchange, the job's routing keys, the relay's properties, one bound quorum queue. Before,
raw's messages went to a queue and the job's to an exchange with none bound, which the broker
confirmed unstored: the ratio compared unlike work."""

import pika

from bench import raw, reassign


def test_the_raw_side_publishes_the_jobs_kind_of_message_into_the_jobs_queue(broker):
    url = broker.amqp_url
    reassign.bind_a_queue(url)
    messages = reassign.the_jobs_messages(url, 4)

    raw.publish_confirmed(url, messages, 6, reassign.BODY.encode())
    raw.publish_unconfirmed(url, messages, 2, reassign.BODY.encode())

    got = broker.take_all(reassign.EVENTS_QUEUE)
    assert [p.type for p, _ in got] == ["task.assigned", "task.updated"] * 4
    user = pika.URLParameters(url).credentials.username
    for properties, body in got:
        assert properties.delivery_mode == pika.DeliveryMode.Persistent.value
        assert (properties.app_id, properties.user_id) == ("tracker", user)
        assert properties.content_type.startswith("application/cloudevents+json")
        assert properties.correlation_id and properties.correlation_id in body.decode()
    assert len({p.message_id for p, _ in got[:4]}) == 4  # each its own event id, used in turn


def test_each_measurement_starts_with_the_queue_empty(broker):
    url = broker.amqp_url
    reassign.bind_a_queue(url)
    raw.publish_confirmed(url, reassign.the_jobs_messages(url, 2), 2, reassign.BODY.encode())
    assert broker.message_count(reassign.EVENTS_QUEUE) == 2

    reassign.empty_the_queue(url)

    assert broker.message_count(reassign.EVENTS_QUEUE) == 0


def test_a_queue_name_still_means_plain_persistent_messages_through_the_default_exchange(broker):
    raw.declare_queue(broker.amqp_url, "bench.raw")
    raw.publish_confirmed(broker.amqp_url, "bench.raw", 3, b"{}")
    got = broker.take_all("bench.raw")
    assert len(got) == 3
    assert all(p.delivery_mode == 2 and p.type is None for p, _ in got)
