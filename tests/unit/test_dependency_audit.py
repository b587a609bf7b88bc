"""bin/audit.py: a known vulnerability in a locked pin fails the test run; PyPI out of reach warns."""

import importlib.util
import urllib.error
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("dependency_audit", ROOT / "bin" / "audit.py")
dependency_audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dependency_audit)

LOCK = """\
flask==3.1.3 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
    # via ates (pyproject.toml)
pika==1.4.4 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
"""
FLASK_FLAW = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fix_versions": ["3.1.4"]}
SKIPPED = [
    {"name": name, "skip_reason": f"Dependency not found on PyPI: {name}"}
    for name in ("flask", "pika")
]


@pytest.fixture
def lock(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text(LOCK)
    return path


def pip_audit_finding(*flask_vulns):
    def pip_audit(lock):
        return [
            {"name": "flask", "version": "3.1.3", "vulns": list(flask_vulns)},
            {"name": "pika", "version": "1.4.4", "vulns": []},
        ], ""

    return pip_audit


def pypi(newest: dict, vulnerabilities: dict | None = None):
    """A fake per-project JSON: {name: newest version}, {name: its vulnerabilities}."""

    def fetch(name):
        return {
            "info": {"version": newest.get(name, "1.0")},
            "vulnerabilities": (vulnerabilities or {}).get(name, []),
        }

    return fetch


def unreachable(name):
    raise urllib.error.URLError("Connection refused")


def run(lock, capsys, **services):
    status = dependency_audit.main(lock, **services)
    return status, capsys.readouterr().err


def test_a_known_vulnerability_fails(lock, capsys):
    status, said = run(lock, capsys, pip_audit=pip_audit_finding(FLASK_FLAW), fetch=pypi({}))
    assert status == 1
    assert "VULNERABLE flask==3.1.3: PYSEC-2099-1 (fixed in 3.1.4)" in said


def test_clean_pins_pass_and_say_how_many_were_checked(lock, capsys):
    status, said = run(lock, capsys, pip_audit=pip_audit_finding(), fetch=pypi({}))
    assert status == 0
    assert "2 locked pins checked" in said and "WARNING" not in said


@pytest.mark.parametrize(
    "strict, status", [("", 0), ("1", 1)], ids=["default", "ATES_AUDIT_STRICT=1"]
)
def test_pypi_out_of_reach_warns_and_fails_only_when_strict(
    lock, capsys, monkeypatch, strict, status
):
    monkeypatch.setenv("ATES_AUDIT_STRICT", strict)

    def pip_audit(lock):  # with PyPI out of reach it would only time out, pin by pin
        raise AssertionError("pip-audit ran although PyPI was out of reach")

    actual, said = run(lock, capsys, pip_audit=pip_audit, fetch=unreachable)
    assert actual == status
    assert "WARNING: 2 locked pins could NOT be checked" in said
    assert "out of reach" in said


def test_a_pin_pip_audit_skipped_is_checked_against_its_newest_release_data(lock, capsys):
    fetch = pypi(
        {"flask": "3.1.3", "pika": "1.4.4"}, {"flask": [{**FLASK_FLAW, "fixed_in": ["3.1.4"]}]}
    )
    status, said = run(lock, capsys, pip_audit=lambda lock: (SKIPPED, ""), fetch=fetch)
    assert status == 1
    assert "VULNERABLE flask==3.1.3: PYSEC-2099-1 (fixed in 3.1.4)" in said


def test_a_skipped_pin_that_is_not_the_newest_release_is_named_as_unchecked(lock, capsys):
    fetch = pypi({"flask": "3.2.0", "pika": "1.4.4"})
    status, said = run(lock, capsys, pip_audit=lambda lock: (SKIPPED, ""), fetch=fetch)
    assert status == 0
    assert "WARNING: 1 locked pins could NOT be checked" in said
    assert "flask==3.1.3: not the newest release (3.2.0)" in said


def test_a_pip_audit_that_gives_no_report_leaves_every_pin_to_the_newest_release_check(
    lock, capsys
):
    fetch = pypi({"flask": "3.1.3", "pika": "1.4.4"}, {"pika": [{"id": "GHSA-x", "fixed_in": []}]})
    status, said = run(
        lock, capsys, pip_audit=lambda lock: (None, "pip-audit gave no report: boom"), fetch=fetch
    )
    assert status == 1
    assert "VULNERABLE pika==1.4.4: GHSA-x (fixed in no fix yet)" in said


@pytest.mark.parametrize(
    "flaw",
    [{**FLASK_FLAW, "withdrawn": "2099-02-01"}, {**FLASK_FLAW, "id": "PYSEC-2099-2"}],
    ids=["withdrawn", "ignored"],
)
def test_a_withdrawn_or_ignored_vulnerability_does_not_fail(lock, capsys, monkeypatch, flaw):
    monkeypatch.setattr(dependency_audit, "IGNORED", {"CVE-2099-1": "cannot reach aTES"})
    fetch = pypi({"flask": "3.1.3", "pika": "1.4.4"}, {"flask": [flaw]})
    status, said = run(lock, capsys, pip_audit=lambda lock: (SKIPPED, ""), fetch=fetch)
    assert status == 0, said


def test_a_pin_missing_from_pypi_is_named_and_the_others_are_still_checked(lock, capsys):
    def fetch(name):
        if name == "flask":
            raise urllib.error.HTTPError(
                f"https://pypi.org/pypi/{name}/json", 404, "Not Found", {}, None
            )
        return {"info": {"version": "1.4.4"}, "vulnerabilities": []}

    status, said = run(lock, capsys, pip_audit=lambda lock: (SKIPPED, ""), fetch=fetch)
    assert status == 0
    assert "1 of 2 locked pins checked" in said
    assert "flask==3.1.3: not on PyPI" in said


def test_a_portal_answering_in_pypis_place_counts_as_out_of_reach(lock, capsys):
    def fetch(name):
        raise ValueError("Expecting value: line 1 column 1 (char 0)")  # an HTML page, not JSON

    status, said = run(lock, capsys, pip_audit=lambda lock: (SKIPPED, ""), fetch=fetch)
    assert status == 0
    assert "out of reach" in said and "WARNING: 2 locked pins could NOT be checked" in said
