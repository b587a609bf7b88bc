"""The schema lock: a published schema file never changes; a change is a new version."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from ates.schemas import (
    EVENT_SCHEMAS_DIR,
    LOCK_FILE,
    SchemaRegistry,
    add_to_lock,
    lock_problems,
    main,
)


@pytest.fixture
def schemas(tmp_path):
    return shutil.copytree(EVENT_SCHEMAS_DIR, tmp_path / "event_schemas")


def read_lock(root):
    return json.loads((root / LOCK_FILE).read_text())


def add_task_completed_v2(root):
    schema = json.loads((root / "task.completed" / "1.json").read_text())
    schema["$id"] = schema["$id"].replace("/1.json", "/2.json")
    schema["properties"]["dataversion"]["const"] = 2
    for message in schema["examples"]:
        message["dataversion"] = 2
    (root / "task.completed" / "2.json").write_text(json.dumps(schema, indent=2))


def test_the_real_schema_tree_matches_its_lock(capsys):
    assert lock_problems(EVENT_SCHEMAS_DIR) == []
    assert main(["check"]) == 0
    assert capsys.readouterr().out.strip() == f"{len(SchemaRegistry().versions())} schemas, lock OK"


def test_the_lock_file_is_sorted_indented_json_of_sha256_digests():
    text = (EVENT_SCHEMAS_DIR / LOCK_FILE).read_text()
    lock = json.loads(text)
    assert text == json.dumps(lock, indent=2, sort_keys=True) + "\n"
    assert sorted(lock) == sorted(f"{t}/{v}" for t, v in SchemaRegistry().versions())
    assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in lock.values())


def test_a_copy_of_the_tree_passes_the_check(schemas, capsys):
    assert lock_problems(schemas) == []
    assert main(["check"], root=schemas) == 0


def test_editing_a_published_file_is_reported_even_for_whitespace(schemas, capsys):
    path = schemas / "task.created" / "1.json"
    path.write_text(path.read_text() + "\n")
    expected = (
        "event_schemas/task.created/1.json was edited after it was published; "
        "add a new version instead"
    )
    assert lock_problems(schemas) == [expected]
    assert main(["check"], root=schemas) == 1
    assert expected in capsys.readouterr().err


def test_a_missing_published_file_is_reported(schemas, capsys):
    (schemas / "payout.sent" / "1.json").unlink()
    assert lock_problems(schemas) == [
        "event_schemas/payout.sent/1.json was published but is missing; put it back"
    ]
    assert main(["check"], root=schemas) == 1


def test_a_new_unlocked_version_is_reported(schemas, capsys):
    add_task_completed_v2(schemas)
    expected = "event_schemas/task.completed/2.json is not locked: run python -m ates.schemas lock"
    assert lock_problems(schemas) == [expected]
    assert main(["check"], root=schemas) == 1
    assert expected in capsys.readouterr().err


def test_lock_adds_the_new_version_and_leaves_the_old_entries_untouched(schemas, capsys):
    before = read_lock(schemas)
    add_task_completed_v2(schemas)
    assert main(["lock"], root=schemas) == 0
    assert capsys.readouterr().out.strip() == "locked task.completed/2"
    after = read_lock(schemas)
    assert set(after) - set(before) == {"task.completed/2"}
    assert {key: after[key] for key in before} == before
    assert lock_problems(schemas) == []
    assert main(["lock"], root=schemas) == 0
    assert capsys.readouterr().out.strip() == "nothing new to lock"


def test_lock_never_rewrites_the_entry_of_an_edited_file(schemas):
    before = read_lock(schemas)
    path = schemas / "task.priced" / "1.json"
    path.write_text(path.read_text().replace("Accounting fixed", "Accounting set"))
    assert add_to_lock(schemas) == []
    assert read_lock(schemas) == before
    assert lock_problems(schemas) == [
        "event_schemas/task.priced/1.json was edited after it was published; add a new version instead"
    ]


def test_lock_creates_the_lock_file_when_there_is_none(schemas):
    expected = read_lock(schemas)
    (schemas / LOCK_FILE).unlink()
    assert len(lock_problems(schemas)) == len(expected)
    assert add_to_lock(schemas) == sorted(expected)
    assert read_lock(schemas) == expected


def test_check_also_reports_a_schema_file_that_does_not_load(schemas, capsys):
    (schemas / "task.completed" / "1.json").write_text("{not json")
    assert main(["check"], root=schemas) == 1
    assert "task.completed/1.json: not a JSON Schema 2020-12 document" in capsys.readouterr().err


def test_list_shows_every_schema_with_its_producer(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(SchemaRegistry().versions())
    assert "task.completed v1  (tracker)" in lines
    assert "transaction.applied v1  (accounting)" in lines
    assert "account.created v1  (auth)" in lines


def test_the_check_runs_from_the_command_line():
    repo = EVENT_SCHEMAS_DIR.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ates.schemas", "check"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("schemas, lock OK")
