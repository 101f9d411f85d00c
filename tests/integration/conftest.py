"""Integration tests run real containers built from dockerfiles/. The images are built (or
found up to date) when the test run begins, with their progress shown; the tests then run in
two pytest-xdist workers (./run-tests), each rehearsal in a lab of its own. Without a
reachable Docker engine they are not run, and one line says so. No test removes a lab it did
not make; after the run no lab a test made may remain."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# The seed cache of this test run (its workers inherit it), never the user's: a rehearsal of
# the same scenario, seed and image restores old instead of seeding it again (docs/cache.md).
OWN_CACHE = None
if "MAILLAB_CACHE_DIR" not in os.environ:
    OWN_CACHE = os.environ["MAILLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="maillab-test-cache-")

from maillab.lab.errors import LabError  # noqa: E402
from maillab.lab.images import ensure_images  # noqa: E402
from maillab.lab.lab import LABEL, RUNNER_PID, docker_client, find_labs  # noqa: E402
from maillab.runner.schema.vocabulary import SUITES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# The upgrade in place the tests rehearse (scenarios/in-place-bookworm-to-trixie.yaml and its
# negatives); bullseye to bookworm is built by `maillab build` and measured by bench, not here,
# for CI's time.
UPGRADES_REHEARSED = (("bookworm", "trixie"),)
# The servers other than Dovecot the tests run as old (docs/foreign-servers.md)
SERVERS_REHEARSED = (("courier", "bookworm"), ("cyrus", "bookworm"), ("gmail", "bookworm"))
NO_ENGINE: list[str] = []
LABS_BEFORE: set[str] = set()  # labs on the engine when the test run began (a developer's kept lab)


def _worker(config) -> bool:
    """Whether this process is one of pytest-xdist's workers (the controller runs the session's
    beginning and end: image builds with their progress shown, and the check for labs left)."""
    return hasattr(config, "workerinput")


def _runs_integration(config) -> bool:
    unit = ROOT / "tests" / "unit"
    return not all(Path(arg.split("::")[0]).resolve().is_relative_to(unit) for arg in config.args)


def pytest_sessionstart(session):
    if _worker(session.config):
        return
    try:
        client = docker_client()
    except LabError as error:
        NO_ENGINE.append(f"integration tests not run: {error}")
        return
    LABS_BEFORE.update(lab.id for lab in find_labs(client))
    if _runs_integration(session.config):
        reporter = session.config.pluginmanager.getplugin("terminalreporter")
        builds = logging.getLogger("maillab.lab")
        handler = _Progress(reporter)
        builds.addHandler(handler)
        builds.setLevel(logging.INFO)
        try:
            # every shipped suite, the cutover's, the browser's, and the upgrade in place the tests rehearse
            ensure_images(client, SUITES, internet=True, browser=True, upgrades=UPGRADES_REHEARSED,
                          servers=SERVERS_REHEARSED)
        finally:
            builds.removeHandler(handler)


def pytest_sessionfinish(session, exitstatus):
    """Every lab that appeared during the run must be gone at its end; labs that were there
    before are not the tests' to judge, nor are those of another runner still at work (a
    rehearsal or a test run beside this one: by now every runner this run started has ended,
    so a live lab's runner is this process or someone else's)."""
    if OWN_CACHE:
        shutil.rmtree(OWN_CACHE, ignore_errors=True)
    if _worker(session.config) or NO_ENGINE:
        return
    me = f"{socket.gethostname()} pid {os.getpid()}"
    left = [lab for lab in find_labs(docker_client()) if lab.id not in LABS_BEFORE
            and (lab.stale or lab.kept or lab.runner in ("-", me))]
    if left:
        session.config.pluginmanager.getplugin("terminalreporter").write_line(f"maillab: left behind: {left}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config, items):
    integration = [item for item in items if "integration" in str(item.path)]
    try:
        docker_client()
    except LabError as error:
        NO_ENGINE[:] = [f"{len(integration)} integration tests not run: {error}"]
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


class _Progress(logging.Handler):
    """Image builds take minutes: their progress is shown as they go."""

    def __init__(self, reporter) -> None:
        super().__init__()
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter.write_line(f"  {record.getMessage()}")


@pytest.fixture(scope="session")
def images(docker):
    """The images, built when the run began (found up to date here)."""
    ensure_images(docker, SUITES, internet=True, upgrades=UPGRADES_REHEARSED, servers=SERVERS_REHEARSED)


def maillab(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI the way a user does."""
    return subprocess.run([sys.executable, "-m", "maillab.runner.entry.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, **kwargs)


def run_until(args: list[str], marker: str) -> tuple[subprocess.Popen, str]:
    """Start the CLI and read its output until `marker` shows (the lab exists and is busy)."""
    process = subprocess.Popen([sys.executable, "-m", "maillab.runner.entry.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
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
