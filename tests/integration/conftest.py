"""Integration tests run real containers built from dockerfiles/. The images are built (or
found up to date) once per session, with their progress shown past pytest's capture. Without
a reachable Docker engine they are not run, and one line says so. No test removes a lab it
did not make; after the session no lab a test made may remain."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from maillab.lab.errors import LabError  # noqa: E402
from maillab.lab.images import ensure_images  # noqa: E402
from maillab.lab.lab import LABEL, RUNNER_PID, docker_client, find_labs  # noqa: E402
from maillab.runner.vocabulary import SUITES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NO_ENGINE: list[str] = []


def pytest_collection_modifyitems(config, items):
    integration = [item for item in items if "integration" in str(item.path)]
    try:
        docker_client()
    except LabError as error:
        NO_ENGINE.append(f"{len(integration)} integration tests not run: {error}")
        items[:] = [item for item in items if item not in integration]
        config.hook.pytest_deselected(items=integration)
        return
    for item in integration:
        item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter):
    for line in NO_ENGINE:
        terminalreporter.write_line(f"maillab: {line}")


@pytest.fixture(scope="session")
def docker():
    return docker_client()


class _PastCapture(logging.Handler):
    """Image builds take minutes: their progress is shown even while pytest captures output."""

    def __init__(self, config) -> None:
        super().__init__()
        self.reporter = config.pluginmanager.getplugin("terminalreporter")
        self.capture = config.pluginmanager.getplugin("capturemanager")

    def emit(self, record: logging.LogRecord) -> None:
        with self.capture.global_and_fixture_disabled():
            self.reporter.write_line(f"  {record.getMessage()}")


@pytest.fixture(scope="session")
def images(docker, pytestconfig):
    builds = logging.getLogger("maillab.lab")
    handler = _PastCapture(pytestconfig)
    builds.addHandler(handler)
    builds.setLevel(logging.INFO)
    try:
        ensure_images(docker, SUITES, internet=True)  # every suite a shipped scenario uses, and the cutover's
    finally:
        builds.removeHandler(handler)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """Every lab that appeared during the session must be gone at its end; labs that were
    there before (a developer's kept lab) are not the tests' to judge, nor are those of
    another runner still at work (a rehearsal or a test session beside this one: at the end
    every runner this session started has ended, so a live lab's runner is this process or
    someone else's)."""
    if NO_ENGINE:
        yield
        return
    client = docker_client()
    before = {lab.id for lab in find_labs(client)}
    yield
    me = f"{socket.gethostname()} pid {os.getpid()}"
    left = [lab for lab in find_labs(client) if lab.id not in before
            and (lab.stale or lab.kept or lab.runner in ("-", me))]
    assert not left, f"left behind: {left}"


def maillab(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI the way a user does."""
    return subprocess.run([sys.executable, "-m", "maillab.runner.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, **kwargs)

def run_until(args: list[str], marker: str) -> tuple[subprocess.Popen, str]:
    """Start the CLI and read its output until `marker` shows (the lab exists and is busy)."""
    process = subprocess.Popen([sys.executable, "-m", "maillab.runner.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = ""
    for line in process.stdout:
        output += line
        if marker in line:
            break
    return process, output


def lab_objects(docker, lab_id: str) -> list:
    """The containers and networks labelled with `lab_id`."""
    selector = {"label": f"{LABEL}={lab_id}"}
    return docker.containers.list(all=True, filters=selector) + docker.networks.list(filters=selector)


def runner_objects(docker, pid: int) -> list:
    """The containers and networks of every lab the runner with process id `pid` made (found
    even when the runner died before it could name its lab)."""
    selector = {"label": f"{RUNNER_PID}={pid}"}
    return docker.containers.list(all=True, filters=selector) + docker.networks.list(filters=selector)
