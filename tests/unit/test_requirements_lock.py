"""The lock files pin, each file by its hash, exactly what pyproject.toml asks for.

bin/lock writes them (docs/supply-chain.md); these tests fail when someone edits the
dependencies in pyproject.toml and forgets to run it.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
# How uv marks a package that pyproject.toml itself asks for (rather than a dependency of one).
ASKED_BY_ATES = "ates (pyproject.toml)"


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]
    wanted_by: frozenset[str]


def read_lock(text: str) -> dict[str, Pin]:
    """{canonical name: Pin} from a `uv pip compile --generate-hashes` file."""
    pins = {}
    for block in re.split(r"^(?=[^\s#])", text, flags=re.M):
        pinned = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", block)
        if not pinned:
            continue
        comments = [line.split("#", 1)[1].strip() for line in block.splitlines()[1:] if "#" in line]
        wanted_by = {re.sub(r"^via\b", "", comment).strip() for comment in comments} - {""}
        pins[canonicalize_name(pinned[1])] = Pin(
            pinned[2],
            tuple(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block)),
            frozenset(wanted_by),
        )
    return pins


def asked_for(pyproject: dict, extras: bool) -> list[Requirement]:
    """What aTES's installs need: its dependencies (with every extra's, for the test run)."""
    wanted = list(pyproject["project"]["dependencies"])
    if extras:
        wanted += [
            r for extra in pyproject["project"]["optional-dependencies"].values() for r in extra
        ]
    return [Requirement(r) for r in wanted]


def lock_problems(pyproject: dict, lock: dict[str, Pin], extras: bool) -> list[str]:
    """Every way the lock disagrees with pyproject.toml, in words; [] when it agrees."""
    problems = []
    build = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    wanted = asked_for(pyproject, extras)
    for requirement in wanted + build:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is in pyproject.toml but not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"the lock pins {requirement.name}=={pin.version}, pyproject.toml asks {requirement}"
            )
    still_asked = {canonicalize_name(r.name) for r in wanted}
    for name, pin in sorted(lock.items()):
        if ASKED_BY_ATES in pin.wanted_by and name not in still_asked:
            problems.append(
                f"the lock still pins {name} for aTES, which pyproject.toml no longer asks for"
            )
        if not pin.hashes:
            problems.append(f"the lock pins {name} without a hash")
    return problems


def real_pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize(
    "lock_file, extras", [(RUNTIME_LOCK, False), (TEST_LOCK, True)], ids=["runtime", "test"]
)
def test_the_lock_agrees_with_pyproject(lock_file, extras):
    assert lock_problems(real_pyproject(), read_lock(lock_file.read_text()), extras) == []


def test_the_image_and_the_test_run_install_the_same_versions_of_what_they_share():
    runtime, test = read_lock(RUNTIME_LOCK.read_text()), read_lock(TEST_LOCK.read_text())
    assert set(runtime) <= set(test)
    assert {name: (test[name].version, test[name].hashes) for name in runtime} == {
        name: (pin.version, pin.hashes) for name, pin in runtime.items()
    }


@pytest.mark.parametrize("lock_file", [RUNTIME_LOCK, TEST_LOCK], ids=["runtime", "test"])
def test_the_lock_says_which_command_writes_it(lock_file):
    assert "#    bin/lock\n" in lock_file.read_text()


def test_a_dependency_added_without_relocking_is_reported():
    pyproject = real_pyproject()
    pyproject["project"]["dependencies"].append("left-pad>=1.0")
    assert lock_problems(pyproject, read_lock(RUNTIME_LOCK.read_text()), extras=False) == [
        "left-pad is in pyproject.toml but not in the lock"
    ]


def test_a_test_extra_added_without_relocking_is_reported():
    pyproject = real_pyproject()
    pyproject["project"]["optional-dependencies"]["test"].append("pytest-xdist>=3")
    assert lock_problems(pyproject, read_lock(TEST_LOCK.read_text()), extras=True) == [
        "pytest-xdist is in pyproject.toml but not in the lock"
    ]


def test_a_lower_bound_raised_past_the_pin_is_reported():
    pyproject = real_pyproject()
    pyproject["project"]["dependencies"] = [
        "flask>=999" if r.startswith("flask>=") else r for r in pyproject["project"]["dependencies"]
    ]
    flask = read_lock(RUNTIME_LOCK.read_text())["flask"].version
    assert lock_problems(pyproject, read_lock(RUNTIME_LOCK.read_text()), extras=False) == [
        f"the lock pins flask=={flask}, pyproject.toml asks flask>=999"
    ]


def test_a_dependency_dropped_from_pyproject_but_still_locked_is_reported():
    pyproject = real_pyproject()
    pyproject["project"]["dependencies"].remove("pillow>=10.0")
    assert lock_problems(pyproject, read_lock(RUNTIME_LOCK.read_text()), extras=False) == [
        "the lock still pins pillow for aTES, which pyproject.toml no longer asks for"
    ]


def test_a_pin_without_a_hash_is_reported():
    lock = read_lock("# header\nflask==3.1.3\n    # via ates (pyproject.toml)\n")
    pyproject = {"project": {"dependencies": ["flask>=3.0"]}, "build-system": {"requires": []}}
    assert lock_problems(pyproject, lock, extras=False) == ["the lock pins flask without a hash"]


def test_the_build_backend_is_locked_too():
    pyproject = real_pyproject()
    pyproject["build-system"]["requires"] = ["setuptools>=999"]
    setuptools = read_lock(RUNTIME_LOCK.read_text())["setuptools"].version
    assert lock_problems(pyproject, read_lock(RUNTIME_LOCK.read_text()), extras=False) == [
        f"the lock pins setuptools=={setuptools}, pyproject.toml asks setuptools>=999"
    ]


@pytest.mark.parametrize(
    "installer, lock",
    [("Dockerfile", "requirements/runtime.txt"), ("bin/lib.sh", "$ROOT/requirements/")],
)
def test_every_install_takes_a_lock_with_hashes_and_then_ates_without_dependencies(installer, lock):
    text = " ".join((ROOT / installer).read_text().replace("\\\n", " ").split())
    assert lock in text
    assert re.search(r"pip install [^&|]*--require-hashes -r ", text)
    assert re.search(r"pip install [^&|]*--no-deps --no-build-isolation -e ", text)
