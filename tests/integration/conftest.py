"""Integration tests run real containers built from dockerfiles/. The images are built (or
found up to date) once per session; after the session no object labelled maillab.lab may remain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from lab.images import ensure_mailhost_image  # noqa: E402
from lab.lab import LABEL, docker_client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SUITES_UNDER_TEST = ("bullseye", "bookworm", "trixie")  # every suite a shipped scenario uses


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker():
    return docker_client()


@pytest.fixture(scope="session")
def progress(pytestconfig):
    """Print past pytest's capture: image builds take minutes and should show it."""
    reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show(line: str) -> None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"  {line}")
    return show


@pytest.fixture(scope="session")
def images(docker, progress):
    for suite in SUITES_UNDER_TEST:
        ensure_mailhost_image(docker, suite, progress)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(docker):
    yield
    containers = docker.containers.list(all=True, filters={"label": LABEL})
    networks = docker.networks.list(filters={"label": LABEL})
    assert not containers and not networks, (
        f"left behind: {[c.name for c in containers]} {[n.name for n in networks]}"
    )


def maillab(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI the way a user does."""
    return subprocess.run([sys.executable, "-c", "from runner.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=ROOT, **kwargs)
