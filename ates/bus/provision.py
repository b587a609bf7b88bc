"""Makes a virtual host ready for aTES as the broker's administrator: the users of every service and
of the operator, their permissions, and every producer's `.events` exchange (a consumer may only
read a producer's exchange, so it cannot declare it). `bin/up`, compose and the tests run it.

    python -m ates.bus.provision      # as the administrator in ATES_AMQP_URL (development: guest)

Development passwords are made once and kept under `<var>/broker/` (0600); production takes each
from `ATES_AMQP_PASSWORD_<USER>` (e.g. ATES_AMQP_PASSWORD_TRACKER) and refuses to make one up.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests

from ates.bus import topology
from ates.bus.nodes import BrokerNodes
from ates.bus.users import (
    OPERATOR,
    SERVICES,
    Permissions,
    credentials_of,
    keep_password,
    management_url_for,
    permissions,
    user_name,
)
from ates.config import load_settings
from ates.schemas import registry

log = logging.getLogger(__name__)
OLD_DEAD_LETTER_EXCHANGE = ""  # queues declared before each service had its own exchanges


class BrokerAdmin:
    """The management HTTP API, as an administrator."""

    def __init__(self, management_url: str, user: str, password: str):
        self.base = management_url.rstrip("/") + "/api"
        self.http = requests.Session()
        self.user = user
        self.http.auth = (user, password)

    def wait_until_up(self, timeout: float = 90.0) -> None:
        """A management plugin enabled a moment ago (bin/lib.sh) starts its listener a few seconds later."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.http.get(f"{self.base}/overview", timeout=5)
                if answer.status_code in (401, 403):
                    raise RuntimeError(
                        f"RabbitMQ's management API refuses the administrator {self.user!r} "
                        "of ATES_AMQP_URL"
                    )
                if answer.ok:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"RabbitMQ's management API at {self.base} did not answer within {timeout:.0f}s; "
                    "is its plugin on (rabbitmq-plugins enable rabbitmq_management)?"
                )
            time.sleep(1.0)

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        answer = self.http.request(method, f"{self.base}/{path}", timeout=30, **kwargs)
        if answer.status_code >= 400 and not (method == "DELETE" and answer.status_code == 404):
            raise RuntimeError(
                f"RabbitMQ's management API: {method} /api/{path} answered "
                f"{answer.status_code} {answer.text[:200]}"
            )
        return answer

    def add_vhost(self, vhost: str) -> None:
        self._call("PUT", f"vhosts/{quote(vhost, safe='')}")

    def delete_vhost(self, vhost: str) -> None:
        self._call("DELETE", f"vhosts/{quote(vhost, safe='')}")

    def put_user(self, user: str, password: str, tags: str = "") -> None:
        self._call(
            "PUT", f"users/{quote(user, safe='')}", json={"password": password, "tags": tags}
        )

    def delete_users(self, users: list[str]) -> None:
        self._call("POST", "users/bulk-delete", json={"users": users})

    def permit(self, vhost: str, user: str, allowed: Permissions) -> None:
        self._call(
            "PUT",
            f"permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
            json={"configure": allowed.configure, "write": allowed.write, "read": allowed.read},
        )

    def declare_topic_exchange(self, vhost: str, name: str) -> None:
        self._call(
            "PUT",
            f"exchanges/{quote(vhost, safe='')}/{quote(name, safe='')}",
            json={"type": "topic", "durable": True},
        )

    def version(self) -> str:
        """The broker's RabbitMQ version, e.g. "3.10.8"."""
        return self._call("GET", "overview").json()["rabbitmq_version"]

    def put_policy(self, vhost: str, name: str, definition: dict) -> None:
        self._call(
            "PUT",
            f"policies/{quote(vhost, safe='')}/{quote(name, safe='')}",
            json=definition,
        )

    def connections(self, vhost: str) -> list[dict]:
        return self._call("GET", f"vhosts/{quote(vhost, safe='')}/connections").json()

    def queues(self, vhost: str) -> list[dict]:
        return self._call(
            "GET",
            f"queues/{quote(vhost, safe='')}",
            params={"columns": "name,type,arguments,messages"},
        ).json()

    def delete_queue_if_empty(self, vhost: str, name: str) -> bool:
        answer = self.http.delete(
            f"{self.base}/queues/{quote(vhost, safe='')}/{quote(name, safe='')}",
            params={"if-empty": "true"},
            timeout=30,
        )
        return answer.status_code in (204, 404)


def provision(
    admin: BrokerAdmin,
    vhost: str,
    passwords: dict[str, str],
    prefix: str,
    extra_users: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """Users for `passwords`' services (and the operator), their permissions in `vhost`, the exchanges.

    `extra_users` maps a test's own consumer to the producers it reads (the bus tests' probe)."""
    consumes = dict(extra_users or {})
    for service, password in passwords.items():
        user = user_name(service, prefix)
        admin.put_user(user, password, tags="management" if service == OPERATOR else "")
        admin.permit(vhost, user, permissions(service, consumes.get(service)))
    for producer in sorted(
        {registry().producer_of(event_type) for event_type, _ in registry().versions()}
    ):
        admin.declare_topic_exchange(vhost, topology.exchange_name(producer))
    keep_dead_letters(admin, vhost)
    _retire_old_queues(admin, vhost)


DEAD_LETTER_POLICY = "ates-dead-letters"
OLD_WAIT_QUEUE = re.compile(r"\.wait\.\d+ms$")


def dead_letter_policy(version: str) -> dict | None:
    """What RabbitMQ `version` needs so that reading a `.dead` queue never drops a letter: from 4.0
    every quorum queue has a delivery limit (20) by default, and reading a letter and giving it
    back counts as a delivery, so `.dead` queues get the limit lifted; 3.x has none by default
    (and there `-1` would mean "none at all": docs/dead-letters.md)."""
    major = int(version.split(".", 1)[0]) if version.split(".", 1)[0].isdigit() else 0
    if major < 4:
        return None
    return {
        "pattern": r"\.dead$",
        "apply-to": "quorum_queues",
        "priority": 10,
        "definition": {"delivery-limit": -1},
    }


def keep_dead_letters(admin: BrokerAdmin, vhost: str) -> None:
    policy = dead_letter_policy(admin.version())
    if policy is not None:
        admin.put_policy(vhost, DEAD_LETTER_POLICY, policy)
        log.info("RabbitMQ 4 or later: the .dead queues' delivery limit is lifted (a policy)")


def _retire_old_queues(admin: BrokerAdmin, vhost: str) -> None:
    """Queues of the layout before per-service users dead-lettered through the default exchange, which no
    service may write now; declaring them with the new arguments would fail. Empty ones go; a queue still
    holding messages is named, for the operator to drain (or move) first. So do the classic wait queues
    of the layout before clusters (`<queue>.wait.<ms>ms`, replaced by quorum `<queue>.delay.<ms>ms`),
    which nothing sends to any more: each empties itself within its delay."""
    for queue in admin.queues(vhost):
        arguments = queue.get("arguments") or {}
        old_wait = queue.get("type") == "classic" and OLD_WAIT_QUEUE.search(queue["name"])
        if arguments.get("x-dead-letter-exchange") != OLD_DEAD_LETTER_EXCHANGE and not old_wait:
            continue
        if admin.delete_queue_if_empty(vhost, queue["name"]):
            log.info("removed the old-layout queue %s (it was empty)", queue["name"])
        elif old_wait:
            log.warning(
                "the old wait queue %s still holds %s messages; they go back to their queue "
                "within its delay: run this again then",
                queue["name"],
                queue.get("messages"),
            )
        else:
            log.warning(
                "queue %s was declared by an older aTES and holds %s messages: drain it, delete it, "
                "then run this again",
                queue["name"],
                queue.get("messages"),
            )


def passwords_for(env, var_dir: Path, production: bool, prefix: str) -> dict[str, str]:
    found = {}
    for service in (*SERVICES, OPERATOR):
        given = env.get(f"ATES_AMQP_PASSWORD_{service.upper()}")
        if given:
            found[service] = given
        elif production:
            raise SystemExit(
                f"production: set ATES_AMQP_PASSWORD_{service.upper()} for the broker user "
                f"{user_name(service, prefix)}; no password is made up"
            )
        else:
            found[service] = keep_password(var_dir, user_name(service, prefix))
    return found


def main(env=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = os.environ if env is None else env
    settings = load_settings(
        OPERATOR, env
    )  # any service's settings say where the broker and var dir are
    admin_user, admin_password = credentials_of(settings.amqp_admin_url)
    vhost = BrokerNodes(settings.amqp_admin_url).first.virtual_host
    admin = BrokerAdmin(
        management_url_for(settings.amqp_admin_url, env), admin_user, admin_password
    )
    admin.wait_until_up()
    passwords = passwords_for(
        env, settings.var_dir, settings.is_production, settings.amqp_user_prefix
    )
    provision(admin, vhost, passwords, settings.amqp_user_prefix)
    log.info(
        "broker users %s ready in virtual host %r",
        ", ".join(user_name(s, settings.amqp_user_prefix) for s in passwords),
        vhost,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
