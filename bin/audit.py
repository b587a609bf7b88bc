"""Audits the locked pins for known vulnerabilities with pip-audit, against PyPI alone.

bin/test runs it (so CI does). A known vulnerability fails. A pin nobody could check is named in a
warning and does not fail (ATES_AUDIT_STRICT=1 makes it fail): PyPI out of reach is the network's
fault, not the code's, and the next run that reaches PyPI audits again.

pip-audit reads PyPI's per-release JSON (/pypi/NAME/VERSION/json). Where a registry mirror serves
only the per-project JSON (/pypi/NAME/json), pip-audit skips every pin; that JSON still lists the
known vulnerabilities of the newest release, so a pin that is the newest release is checked there.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "test.txt"
PYPI = os.environ.get("ATES_PYPI_URL", "https://pypi.org").rstrip("/")

# Known vulnerabilities that do not apply to aTES: ID -> why, and when to look again. Each is
# passed to pip-audit as --ignore-vuln and skipped by the fallback (by ID or alias).
IGNORED: dict[str, str] = {}
# What PyPI out of reach (or a captive portal answering in its place) looks like from here.
UNREACHABLE = (OSError, ValueError, KeyError, http.client.HTTPException)


@dataclass
class Verdict:
    vulnerable: list[str] = field(default_factory=list)  # "name==version: ID (fixed in ...)"
    unaudited: list[str] = field(default_factory=list)  # "name==version: why"
    audited: int = 0
    notes: list[str] = field(default_factory=list)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", lock.read_text(), re.M)
    return {canonical(name): version for name, version in pins}


def run_pip_audit(lock: Path) -> tuple[list[dict] | None, str]:
    """pip-audit's per-dependency results, or None and the reason it gave none."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        ignored = [arg for vuln in IGNORED for arg in ("--ignore-vuln", vuln)]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--requirement",
                str(lock),
                "--require-hashes",
                "--disable-pip",
                "--vulnerability-service",
                "pypi",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(report),
                *ignored,
            ],
            capture_output=True,
            text=True,
        )
        if not report.exists():
            lines = (done.stderr or done.stdout).strip().splitlines()
            return (
                None,
                f"pip-audit gave no report: {lines[-1] if lines else f'exit {done.returncode}'}",
            )
        return json.loads(report.read_text())["dependencies"], ""


def fetch_project(name: str) -> dict:
    with urllib.request.urlopen(f"{PYPI}/pypi/{name}/json", timeout=15) as answer:
        return json.load(answer)


def describe(name: str, version: str, vuln: dict) -> str:
    fixed = ", ".join(vuln.get("fix_versions") or vuln.get("fixed_in") or []) or "no fix yet"
    return f"{name}=={version}: {vuln['id']} (fixed in {fixed})"


def newest_release_check(name: str, version: str, fetch, verdict: Verdict) -> None:
    """Checks a pin pip-audit skipped against the per-project JSON, when it is the newest release."""
    try:
        project = fetch(name)
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        verdict.unaudited.append(f"{name}=={version}: not on PyPI")
        return
    newest = project["info"]["version"]
    if newest != version:
        verdict.unaudited.append(
            f"{name}=={version}: not the newest release ({newest}), and the "
            "registry did not serve this release's vulnerability data"
        )
        return
    verdict.audited += 1
    for vuln in project.get("vulnerabilities") or []:
        if not vuln.get("withdrawn") and not (
            {vuln["id"], *vuln.get("aliases", [])} & set(IGNORED)
        ):
            verdict.vulnerable.append(describe(name, version, vuln))


def audit(lock: Path = LOCK, pip_audit=run_pip_audit, fetch=fetch_project) -> Verdict:
    verdict = Verdict()
    pins = read_pins(lock)
    try:
        # A quick look first: with PyPI out of reach pip-audit would time out pin by pin.
        fetch("pip")["info"]["version"]
    except UNREACHABLE as error:
        verdict.unaudited = [f"{name}=={version}" for name, version in pins.items()]
        verdict.notes.append(f"PyPI ({PYPI}) is out of reach: {error}")
        return verdict
    results, why = pip_audit(lock)
    if why:
        verdict.notes.append(why)
    skipped = dict(pins) if results is None else {}
    for result in results or []:
        name = canonical(result["name"])
        if "skip_reason" in result:
            skipped[name] = pins.get(name, "?")
            continue
        verdict.audited += 1
        verdict.vulnerable += [describe(name, result["version"], v) for v in result["vulns"]]
    if skipped and results is not None:
        verdict.notes.append(
            f"pip-audit could not check {len(skipped)} pins "
            f"(e.g. {next(r['skip_reason'] for r in results if 'skip_reason' in r)})"
        )
    pending = list(skipped.items())
    for at, (name, version) in enumerate(pending):
        try:
            newest_release_check(name, version, fetch, verdict)
        except UNREACHABLE as error:  # PyPI went out of reach: the rest would only time out too
            verdict.notes.append(f"PyPI went out of reach: {error}")
            verdict.unaudited += [f"{n}=={v}" for n, v in pending[at:]]
            break
    return verdict


def main(lock: Path = LOCK, **services) -> int:
    verdict = audit(lock, **services)
    for line in verdict.vulnerable:
        print(f"VULNERABLE {line}", file=sys.stderr)
    if verdict.vulnerable:
        print(
            f"{len(verdict.vulnerable)} known vulnerabilities in the locked pins: upgrade them "
            "(bin/lock --upgrade-package NAME) or, when no fix exists and the flaw cannot reach "
            "aTES, add the ID to IGNORED in bin/audit.py with the reason.",
            file=sys.stderr,
        )
        return 1
    checked = f"{verdict.audited} of {verdict.audited + len(verdict.unaudited)} locked pins"
    print(
        f"dependency audit: {checked} checked against PyPI's vulnerability data"
        + (", no known vulnerabilities" if verdict.audited else ""),
        *verdict.notes,
        sep="\n  ",
        file=sys.stderr,
    )
    if verdict.unaudited:
        explained = [pin for pin in verdict.unaudited if ":" in pin]
        plain = ", ".join(pin for pin in verdict.unaudited if ":" not in pin)
        print(
            f"WARNING: {len(verdict.unaudited)} locked pins could NOT be checked for known "
            "vulnerabilities:",
            *explained,
            *([plain] if plain else []),
            sep="\n  ",
            file=sys.stderr,
        )
        return 1 if os.environ.get("ATES_AUDIT_STRICT") == "1" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else LOCK))
