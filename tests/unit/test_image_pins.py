"""Every image aTES pulls is pinned by digest, and every image name can be overridden.

A tag (rabbitmq:3.13-management) is moved by its publisher; a digest names one exact image.
docs/supply-chain.md says how the digests were chosen and how to refresh them.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.test_compose import example_settings

ROOT = Path(__file__).resolve().parents[2]
OVERRIDABLE = re.compile(r"^\$\{(?P<variable>[A-Z][A-Z0-9_]*):-(?P<default>[^}]+)\}$")
PINNED = re.compile(r"^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")


def compose_images() -> dict[str, str]:
    """{service: its image: as written} (anchors merged)."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return {name: service["image"] for name, service in services.items() if "image" in service}


def pulled(name: str) -> bool:
    """Whether compose pulls the service's image; the aTES services build theirs (Dockerfile)."""
    return "build" not in yaml.safe_load((ROOT / "compose.yaml").read_text())["services"][name]


@pytest.mark.parametrize("service", sorted(compose_images()))
def test_every_compose_image_can_be_overridden_by_a_variable(service):
    assert OVERRIDABLE.match(compose_images()[service]), compose_images()[service]


@pytest.mark.parametrize("service", sorted(name for name in compose_images() if pulled(name)))
def test_every_pulled_compose_image_is_pinned_by_tag_and_digest(service):
    default = OVERRIDABLE.match(compose_images()[service])["default"]
    assert PINNED.match(default), f"{service}: {default} has no @sha256 digest"


def test_the_pattern_rejects_a_tag_without_a_digest():
    assert not PINNED.match("rabbitmq:3.13-management")
    assert not PINNED.match(
        "postgres@sha256:" + "0" * 64
    )  # the tag says what the digest is meant to be
    assert PINNED.match("postgres:16@sha256:" + "0" * 64)


def test_the_dockerfile_base_image_is_a_build_argument_pinned_by_digest():
    dockerfile = (ROOT / "Dockerfile").read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M))
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert bases, "no FROM line"
    for base in bases:
        argument = re.fullmatch(r"\$\{(\w+)\}", base)
        assert argument, f"FROM {base} is not a build argument"
        assert PINNED.match(arguments.get(argument[1], "")), f"{argument[1]} has no @sha256 digest"


def test_an_image_variable_replaces_the_pinned_default():
    environment = {
        **os.environ,
        **example_settings(),
        "ATES_RABBITMQ_IMAGE": "registry.example/rabbitmq:3.13@sha256:" + "a" * 64,
    }
    rendered = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert rendered.returncode == 0, rendered.stderr
    images = {
        name: service["image"]
        for name, service in yaml.safe_load(rendered.stdout)["services"].items()
    }
    assert images["rabbitmq"] == environment["ATES_RABBITMQ_IMAGE"]
    assert images["postgres"] == OVERRIDABLE.match(compose_images()["postgres"])["default"]
