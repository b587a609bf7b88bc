"""The correlation id: taken from a request when sane, made otherwise, stamped on events, read back
cheaply."""

import json
import threading
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from ates import correlation
from ates.bus import Outbox
from ates.bus.events import correlation_id_of
from ates.db import make_engine
from ates.unit_of_work import UnitOfWork
from ates.web import service_app
from tests.probe import metadata, outbox_rows, task_created


@pytest.mark.parametrize("value", ["abc", "req-4c1f9e2a", "A.b_c-9", "x" * 64, str(uuid.uuid4())])
def test_a_sane_id_is_kept(value):
    assert correlation.accept(value) == value


@pytest.mark.parametrize(
    "value", [None, "", "x" * 65, "has space", "a/b", "semi;colon", "ünïcode", "line\nbreak"]
)
def test_anything_else_gets_a_new_id(value):
    made = correlation.accept(value)
    assert made != value and uuid.UUID(made)


def test_correlated_sets_the_id_for_the_block_only():
    assert correlation.current() is None
    with correlation.correlated("job-1") as value:
        assert value == correlation.current() == "job-1"
        with correlation.correlated() as inner:
            assert correlation.current() == inner != "job-1"
        assert correlation.current() == "job-1"
    assert correlation.current() is None


def test_each_thread_has_its_own_id():
    seen = {}

    def work(name):
        with correlation.correlated(name):
            barrier.wait()
            seen[name] = correlation.current()

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"one": "one", "two": "two"}


@pytest.fixture
def uow(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    metadata.create_all(engine)
    yield UnitOfWork(engine)
    engine.dispose()


def bodies(uow) -> list[str]:
    with uow.read() as session:
        return list(session.scalars(select(outbox_rows.c.body).order_by(outbox_rows.c.id)))


def test_outbox_stamps_the_current_id_unless_the_event_names_its_own(uow):
    named = replace(task_created(), correlation_id="its-own")
    with correlation.correlated("req-7"), uow.begin() as session:
        Outbox(outbox_rows).add(session, task_created(), named)
    with uow.begin() as session:
        Outbox(outbox_rows).add(session, task_created())  # outside any request: no id
    stamped, kept, bare = [json.loads(body) for body in bodies(uow)]
    assert (stamped["correlationid"], kept["correlationid"]) == ("req-7", "its-own")
    assert "correlationid" not in bare


def test_the_relay_reads_the_id_from_the_body_as_the_outbox_wrote_it(uow):
    tricky = task_created()
    tricky.data["title"] = 'a title with ,"correlationid":"fake" inside'
    with correlation.correlated("req-8"), uow.begin() as session:
        Outbox(outbox_rows).add(session, task_created(), tricky)
    with uow.begin() as session:
        Outbox(outbox_rows).add(session, replace(tricky, id=str(uuid.uuid4())))
    assert [correlation_id_of(body) for body in bodies(uow)] == ["req-8", "req-8", None]


def test_an_id_not_at_the_end_is_found_by_parsing():
    assert correlation_id_of('{"correlationid":"early","data":{}}') == "early"
    assert correlation_id_of('{"data":{},"correlationid":"with \\"quote\\""}') == 'with "quote"'


@pytest.fixture
def client(tmp_path):
    from ates.config import load_settings

    app = service_app(
        __name__, "gateway", load_settings("gateway", {"ATES_VAR_DIR": str(tmp_path)})
    )

    @app.get("/whose")
    def whose():
        return {"correlation_id": correlation.current()}

    return app.test_client()


def test_a_request_takes_a_sane_id_and_returns_it(client):
    answer = client.get("/whose", headers={"X-Correlation-Id": "abc"})
    assert answer.json == {"correlation_id": "abc"}
    assert answer.headers["X-Correlation-Id"] == "abc"
    assert correlation.current() is None  # nothing leaks into the next request on this thread


def test_a_request_without_a_sane_id_gets_a_new_one(client):
    answers = [
        client.get("/whose", headers=headers) for headers in ({}, {"X-Correlation-Id": "bad id!"})
    ]
    made = [answer.json["correlation_id"] for answer in answers]
    assert [answer.headers["X-Correlation-Id"] for answer in answers] == made
    assert all(uuid.UUID(value) for value in made) and made[0] != made[1]


def test_an_error_answer_carries_the_id_too(client):
    answer = client.get("/no-such-page", headers={"X-Correlation-Id": "lost-1"})
    assert answer.status_code == 404 and answer.headers["X-Correlation-Id"] == "lost-1"


def test_the_gateway_passes_its_requests_id_to_the_services(monkeypatch):
    import time

    from flask import session

    from gateway import api_client
    from gateway.app import create_app

    sent = []
    monkeypatch.setattr(
        api_client.requests,
        "request",
        lambda method, url, **kwargs: (
            sent.append(kwargs["headers"])
            or type("Answer", (), {"status_code": 200, "ok": True, "content": b"", "json": None})()
        ),
    )
    app = create_app(config={"BACKEND_URLS": {"tracker": "http://tracker.test"}})
    with app.test_request_context(headers={"X-Correlation-Id": "gw-1"}):
        app.preprocess_request()  # what happens before every view: the id is taken from the request
        session["sso_tokens"] = {
            "access_token": "t",
            "refresh_token": "r",
            "expires_at": time.time() + 900,
        }
        api_client.post("tracker", "/api/tasks", json={"title": "Feed the parrots"})
    assert sent[0]["X-Correlation-Id"] == "gw-1"
    assert correlation.current() is None  # the request's teardown put it back
