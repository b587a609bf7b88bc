"""The request schemas the APIs build once and share between their threads (tracker/api.py): a
load keeps nothing in the instance, so threads loading at once each get their own input back, and
one thread's refusal is not another's."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from accounting.api import ACCOUNT_QUERY
from notifier.api import SETTINGS
from tracker.api import NEW_TASK, TASK_QUERY


def _load_many(schema, inputs):
    def one(given):
        try:
            return schema.load(given)
        except ValidationError as refused:
            return refused.messages

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, inputs))


def test_threads_sharing_the_new_task_schema_each_get_their_own_task():
    inputs = [{"title": f"Feed parrot {n}", "description": "d" * (n % 5)} for n in range(400)]
    inputs[7] = {"title": ""}  # refused, and only this one
    loaded = _load_many(NEW_TASK, inputs)
    assert "title" in loaded[7]
    for n, (given, got) in enumerate(zip(inputs, loaded, strict=True)):
        if n != 7:
            assert got["title"] == given["title"]
            assert got["description"] == given["description"]


@pytest.mark.parametrize(
    "schema, field, values",
    [
        (TASK_QUERY, "status", ["open", "done"]),
        (ACCOUNT_QUERY, "role", ["admin", "developer"]),
    ],
)
def test_threads_sharing_a_query_schema_each_get_their_own_query(schema, field, values):
    inputs = [MultiDict({field: values[n % 2]}) for n in range(400)]
    loaded = _load_many(schema, inputs)
    assert [got[field] for got in loaded] == [values[n % 2] for n in range(400)]


def test_threads_sharing_the_settings_schema_each_get_their_own_settings():
    zones = ["Europe/Moscow", "Asia/Tokyo", None, "Nowhere/Atlantis"]
    inputs = [{"task_mail": n % 2 == 0, "timezone": zones[n % 4]} for n in range(400)]
    loaded = _load_many(SETTINGS, inputs)
    for n, got in enumerate(loaded):
        if zones[n % 4] == "Nowhere/Atlantis":
            assert "timezone" in got
        else:
            assert got == {"task_mail": n % 2 == 0, "timezone": zones[n % 4]}
