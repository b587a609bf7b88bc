"""A working day on a three-node RabbitMQ cluster, with two replicas of every aTES process, while
the broker loses nodes: the first node (where every client connects first) is SIGKILLed in the
middle of the day and started again, later the second node's broker is stopped and started. Every
process is given all three nodes in ATES_AMQP_URL and moves on to the next when its node goes
away; every queue is a quorum queue on the three nodes, its wait queues too. Afterwards the whole
system must agree with the model as on a calm day: nothing lost, nothing doubled, no dollar off,
every queue empty. On PostgreSQL, which two replicas of each worker share.

The nodes are the test's own (`private_cluster`): the broker the other tests share is never touched."""

import random
import threading
import time

import pytest
import requests

from tests.conftest import ADMIN, eventually
from tests.e2e import model
from tests.e2e.checks import check_everything, describe, figures, mail_figures
from tests.e2e.day import (
    RETRY_DELAYS_MS,
    Api,
    Script,
    close_day,
    consumer_queues,
    hire,
    noon_zone,
    open_billing_day,
    settle,
    system_settings,
)
from tests.e2e.system import postgres_databases, supervised
from tests.e2e.tap import EventTap

pytestmark = pytest.mark.broker
REPLICAS = 2


class BrokerTrouble(threading.Thread):
    """What happens to the broker while the popugs work: `step` runs one step on a thread of its own."""

    def __init__(self, cluster, api: Api):
        super().__init__(daemon=True)
        self.cluster, self.api = cluster, api
        self.requests_while_down: dict[str, int] = {}
        self.connections_after_the_kill = 0
        self.error: BaseException | None = None
        self._steps: list = []

    def step(self, name: str, action) -> "BrokerTrouble":
        self._steps.append((name, action))
        return self

    def run(self) -> None:
        try:
            for name, action in self._steps:
                before = self.api.requests
                action()
                self.requests_while_down[name] = self.api.requests - before
        except BaseException as error:  # noqa: BLE001 - the test thread reports it
            self.error = error

    def finish(self) -> None:
        self.join(timeout=240)
        assert not self.is_alive(), "the broker's trouble did not end"
        if self.error is not None:
            raise self.error


def kill_and_restart(cluster, node) -> None:
    """SIGKILL the node's VM while tasks are being created, count who reconnected elsewhere, start it."""
    time.sleep(2)  # some of the round's tasks before, most during and after
    node.kill()
    others = [n for n in cluster.nodes if n is not node]
    eventually(
        lambda: sum(_connections(n) for n in others) >= 10,
        timeout=60,
        interval=0.5,
        message="the system's processes to reconnect to the other nodes",
    )
    time.sleep(3)
    node.start()
    node.wait()


def stop_and_start(node, down_for: float = 4.0) -> None:
    time.sleep(2)
    node.ctl("stop_app")
    time.sleep(down_for)
    node.ctl("start_app")
    node.wait()


def _connections(node) -> int:
    try:
        return len(node.ctl("list_connections", "name", timeout=30).split("\n")) - 1
    except Exception:  # noqa: BLE001 - a node that does not answer has none
        return 0


def queue_layout_problems(cluster) -> list[str]:
    """Every consumer, wait and `.dead` queue (and the tap's) a quorum queue with a member on each node."""
    answer = requests.get(
        f"{cluster.admin.base}/queues/%2F",
        params={"columns": "name,type,members"},
        auth=ADMIN,
        timeout=30,
    )
    answer.raise_for_status()
    found = {queue["name"]: queue for queue in answer.json()}
    wanted = ["e2e.tap"]
    for queue in consumer_queues():
        wanted += [queue, f"{queue}.dead", *(f"{queue}.delay.{d}ms" for d in RETRY_DELAYS_MS)]
    nodes = sorted(node.name for node in cluster.nodes)
    return [
        f"{name}: {found.get(name, {}).get('type')} on {found.get(name, {}).get('members')}"
        for name in wanted
        if found.get(name, {}).get("type") != "quorum"
        or sorted(found[name].get("members", [])) != nodes
    ]


@pytest.mark.timeout(900)
def test_a_day_on_a_cluster_that_loses_nodes_loses_and_doubles_nothing(private_cluster, tmp_path):
    started = time.monotonic()
    cluster = private_cluster
    first, second, _third = cluster.nodes
    zone_name, zone = noon_zone()
    tap = EventTap(cluster.amqp_url, queue_arguments={"x-queue-type": "quorum"}).declare().start()
    try:
        with (
            postgres_databases("cluster") as databases,
            supervised(
                tmp_path / "var",
                cluster,
                replicas=REPLICAS,
                **system_settings(zone_name),
                **databases,
            ) as system,
        ):
            names = [process["name"] for process in system.processes()]
            assert sum(name.startswith("tracker-worker") for name in names) == REPLICAS
            api = Api(system.urls)
            cast = hire(api, per_role=6, tag="cluster")
            rng = random.Random("cluster")
            script, books = Script(api, cast, rng), model.Books({})
            day = open_billing_day(api, cast)
            assert queue_layout_problems(cluster) == []
            trouble = BrokerTrouble(cluster, api)
            for number, (tasks, completions) in enumerate(((300, 200), (300, 250), (250, 200)), 1):
                if number == 2:  # the node every client tried first dies while popugs create tasks
                    trouble.step("kill", lambda: kill_and_restart(cluster, first)).start()
                if number == 3:
                    trouble.finish()
                    earlier = trouble.requests_while_down
                    trouble = BrokerTrouble(cluster, api)
                    trouble.step("stop_app", lambda: stop_and_start(second)).start()
                script.create_tasks(tasks)
                script.complete(completions)
                script.reassign(rng.choice(cast.of_role("manager") + cast.of_role("admin")))
            trouble.finish()
            outages = {**earlier, **trouble.requests_while_down}
            assert outages["kill"] > 0 and outages["stop_app"] > 0, "popugs work during both"
            assert len(cluster.members()) == 3, "every node runs in the cluster again"
            settle(api, script, books, tap, day, timeout=300)
            close_day(api, rng.choice(cast.of_role("accountant")), books, day)
            check_everything(
                api, cast, script, books, tap, cluster, system.var_dir, zone, timeout=300
            )
            assert queue_layout_problems(cluster) == [], "every queue has its three members back"
            print(f"\ncluster, {time.monotonic() - started:.0f}s:\n{describe(books)}")
            found = figures(
                api,
                script,
                books,
                tap,
                replicas=REPLICAS,
                broker_nodes=len(cluster.nodes),
                requests_while_a_node_was_down=outages,
                tap_reconnects=tap.reconnects,
                **mail_figures(system.var_dir),
            )
            print(f"figures (cluster, {time.monotonic() - started:.0f}s): {found}")
    finally:
        tap.stop()
