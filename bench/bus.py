"""Benchmark: the event pipeline against raw pika, in one run on one broker.

raw       a publisher process sends N persistent messages to a quorum queue the fastest reliable
          way (publisher confirms, up to 1,000 unconfirmed at once: bench/raw.py) while a
          consumer process takes them with a manual ack each;
pipeline  N events are committed to a producer's outbox (100 per transaction), its relay
          publishes them with confirms, a consumer process applies each in its own database
          through the inbox and acks after commit.

Both clocks run from the first message written to the last one acknowledged (raw) or
committed (pipeline). Prints both rates and their ratio (goal: pipeline >= 0.5 x raw).

    python -m bench.bus [--events 10000]
"""

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika

from bench import raw
from tests.conftest import _throw_away_vhost
from tests.integration.conftest import probe_urls
from tests.probe import QUEUE, Probe, task_created

ROOT = Path(__file__).resolve().parent.parent
BODY = b'{"specversion":"1.0"}'.ljust(420, b" ")  # about the size of a task.created message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    events = parser.parse_args().events
    with throw_away_vhost() as broker:
        raw = run_raw(broker.amqp_url, events)
        pipeline = run_pipeline(broker, events)
    print(f"events:   {events}")
    print(
        f"raw:      {events / raw:9.0f} events/s  ({raw:.2f}s)  "
        "pika publish with confirms (pipelined) + consume, manual ack"
    )
    print(
        f"pipeline: {events / pipeline:9.0f} events/s  ({pipeline:.2f}s)  "
        "outbox -> relay -> broker -> consumer -> commit"
    )
    print(f"ratio:    {raw / pipeline:.2f}  (pipeline rate / raw rate; goal >= 0.50)")


def run_raw(amqp_url: str, events: int) -> float:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        connection.channel().queue_declare(
            "bench.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
    done = multiprocessing.Event()
    consumer = multiprocessing.Process(target=_raw_consume, args=(amqp_url, events, done))
    consumer.start()
    time.sleep(1.0)  # the consumer is connected and waiting, as the pipeline's is
    started = time.perf_counter()
    publisher = multiprocessing.Process(target=_raw_publish, args=(amqp_url, events))
    publisher.start()
    done.wait()
    elapsed = time.perf_counter() - started
    publisher.join()
    consumer.join()
    return elapsed


def _raw_publish(amqp_url: str, events: int) -> None:
    raw.publish_confirmed(amqp_url, "bench.raw", events, BODY)


def _raw_consume(amqp_url: str, events: int, done) -> None:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=500)
        for received, (method, _properties, _body) in enumerate(channel.consume("bench.raw"), 1):
            channel.basic_ack(method.delivery_tag)
            if received == events:
                break
        done.set()


def run_pipeline(broker, events: int) -> float:
    amqp_url = broker.amqp_url
    with tempfile.TemporaryDirectory() as directory:
        producer = Probe(f"sqlite:///{directory}/producer.db", probe_urls(broker))
        consumer = Probe(f"sqlite:///{directory}/consumer.db", probe_urls(broker))
        processes = [
            _spawn("consumer", consumer, Path(directory) / "consumer.log"),
            _spawn("relay", producer, Path(directory) / "relay.log"),
        ]
        try:
            _wait_for_queue(amqp_url, QUEUE)
            batch = [task_created() for _ in range(events)]
            started = time.perf_counter()
            for start in range(0, events, 100):
                producer.publish(*batch[start : start + 100])
            while consumer.applied_count() < events:
                time.sleep(0.01)
            return time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)


def _spawn(role: str, probe: Probe, log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.probe",
            role,
            str(probe.engine.url),
            json.dumps(probe.amqp_urls),
        ],
        cwd=ROOT,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )


def _wait_for_queue(amqp_url: str, queue: str) -> None:
    for _ in range(300):
        try:
            with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
                connection.channel().queue_declare(queue, passive=True)
                return
        except pika.exceptions.ChannelClosedByBroker:
            time.sleep(0.1)
    raise RuntimeError(f"the consumer never declared {queue}")


def throw_away_vhost():
    """A virtual host of the benchmark's own, with the services' broker users, disturbing nothing else."""
    return _throw_away_vhost()


if __name__ == "__main__":
    main()
