"""The runner survives too (issue 9): signals at any moment, a runner killed outright, a Docker
engine that goes away mid-run, and rehearsals started at once on one engine. Each leaves no
labelled container or network of its own behind (labs of other runners are not looked at:
each run's objects are found by its lab id and by its process id, which the labels carry)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maillab.lab.lab import find_labs

from .conftest import ROOT, lab_objects, maillab, run_until, runner_objects
from .engine_proxy import EngineProxy

FAST = "scenarios/bookworm-to-trixie.yaml"  # two hosts, ~300 messages: the quickest rehearsal
# The tests that wait for "seeded" pass --no-cache: old restored from the seed cache logs no seeding.


def start(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path, Path]:
    """The real CLI in the background, its stdout and stderr going to files."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "maillab.runner.entry.cli", *args], cwd=ROOT, stdout=stdout,
                                   stderr=stderr, text=True, env=env)
    return process, out, err


def wait_for(path: Path, marker: str, process: subprocess.Popen) -> None:
    """Until `marker` shows in the file the process writes (or it ended without showing it)."""
    while marker not in path.read_text() and process.poll() is None:
        time.sleep(0.05)
    assert marker in path.read_text(), path.read_text()[-3000:]


def runner_code_runs(process: subprocess.Popen) -> None:
    """Until the runner's own first line has run: it blocks (and later catches) SIGTERM. What
    comes before is the Python interpreter starting, which no program can act on."""
    bit = 1 << (signal.SIGTERM - 1)
    while process.poll() is None:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
                      if ":\t" in line)
        if (int(status["SigBlk"], 16) | int(status["SigCgt"], 16)) & bit:
            return
        time.sleep(0.001)


def labs_of_runner(docker, pid: int) -> set[str]:
    """The ids of the labs whose objects say the runner `pid` made them."""
    return {(obj.labels if hasattr(obj, "labels") else obj.attrs["Labels"])["maillab.lab"]
            for obj in runner_objects(docker, pid)}


def report_in(directory: Path) -> dict | None:
    path = directory / "report.json"
    return json.loads(path.read_text()) if path.exists() else None


# 20 moments from the start of the runner's code to past the end of a warm run (~15 s): before
# the lab exists (imports, the scenario, the engine's ping), during create (the network, the
# containers being started, their readiness), seeding, baseline, converge, verify, destroy.
_CHOICE = random.Random(9)
MOMENTS = [(_CHOICE.choice([signal.SIGINT, signal.SIGTERM]), 0.0 if case == 0 else round((case + _CHOICE.random()) * 0.6, 2))
           for case in range(20)]


@pytest.mark.parametrize(("signum", "delay"), MOMENTS, ids=[f"{s.name}-at-{d}s" for s, d in MOMENTS])
def test_a_signal_at_any_moment_leaves_nothing(images, docker, tmp_path, signum, delay):
    process, out, err = start(["run", FAST, "--report-dir", str(tmp_path / "report")], tmp_path)
    try:
        runner_code_runs(process)
        time.sleep(delay)  # when the signal is sent, not how long anything may take
        finished_before = process.poll() is not None
        if not finished_before:
            process.send_signal(signum)
        process.wait(timeout=300)
    finally:
        process.kill()
    output = out.read_text() + err.read_text()
    assert "Traceback" not in output, output[-5000:]
    passed = "PASS: bookworm-to-trixie" in out.read_text()
    if finished_before or (process.returncode == 0 and passed):  # it ended before the signal could matter
        assert process.returncode == 0 and passed, output[-5000:]
    else:
        assert process.returncode == 128 + signum, output[-5000:]
        # one line: 'interrupted by SIGINT' before the lab existed, after it what became of the lab
        assert err.read_text().strip().splitlines()[-1].startswith("maillab: interrupted"), output[-3000:]
    report = report_in(tmp_path / "report")
    if report is not None:  # once the lab existed: reported, and its objects are gone
        if process.returncode == 0:
            assert report["verdict"] == "pass"
        else:
            assert (report["verdict"], report["error"]) == ("error", f"interrupted by {signal.Signals(signum).name}")
        assert not lab_objects(docker, report["lab"])
    assert not runner_objects(docker, process.pid), "a lab object of this runner was left"


# Two windows too narrow for the moments above to hit every time, aimed at from the log: a
# Ctrl-C while Docker creates the network (the network was left: its creation was asked for,
# its answer never read), and a second Ctrl-C while the containers are being created (both
# were left: the removal ran while the threads creating them still worked).
CREATE = [("▶ create", delay, None) for delay in (0.0, 0.03, 0.05, 0.07, 0.09, 0.12)] + \
         [("starting host 'new'", delay, 0.01) for delay in (0.0, 0.02, 0.05)]


@pytest.mark.parametrize(("marker", "delay", "again"), CREATE,
                         ids=[f"{'twice' if again else 'once'}-{delay}s-after-{marker.split()[-1]}" for marker, delay, again in CREATE])
def test_a_signal_while_the_lab_is_being_created_leaves_nothing(images, docker, tmp_path, marker, delay, again):
    process, output = run_until(["run", FAST, "--report-dir", str(tmp_path)], marker)
    try:
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        if again:
            time.sleep(again)
            process.send_signal(signal.SIGINT)
        output += process.communicate(timeout=300)[0]
    finally:
        process.kill()
    assert process.returncode == 130, output[-3000:]
    assert "Traceback" not in output
    assert output.strip().splitlines()[-1] == "maillab: interrupted; the lab was removed", output[-3000:]
    assert not runner_objects(docker, process.pid), "a lab object of this runner was left"


@pytest.mark.xdist_group("stale labs")  # `down --stale` removes every stale lab
def test_a_lab_whose_real_runner_was_killed_is_named_and_removed_by_down_stale(images, docker, tmp_path):
    process, _ = run_until(["run", FAST, "--no-cache", "--report-dir", str(tmp_path / "killed")], "seeded")
    try:
        process.kill()  # SIGKILL: nothing of the runner's own runs
        process.wait(timeout=30)
    finally:
        process.kill()
    [lab_id] = labs_of_runner(docker, process.pid)
    try:
        assert [lab.stale for lab in find_labs(docker) if lab.id == lab_id] == [True]
        run = maillab("-q", "run", "scenarios/bullseye-to-bookworm.yaml", "--report-dir", str(tmp_path / "next"))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
        [warning] = [line for line in run.stderr.splitlines() if "labs left by runners that are gone: " in line]
        assert f"{lab_id} (3 containers, started " in warning  # old, new and the forwarder
        down = maillab("down", "--stale")
        assert down.returncode == 0, down.stderr
        assert "removed " in down.stdout
        assert not lab_objects(docker, lab_id)
    finally:
        maillab("down", "--lab", lab_id)  # in case an assertion failed first


def test_a_docker_engine_that_goes_away_mid_run_ends_it_with_exit_3_and_one_line(images, docker, tmp_path):
    proxy = EngineProxy()
    env = dict(os.environ, DOCKER_HOST=proxy.docker_host)
    process, out, err = start(["run", FAST, "--no-cache", "--report-dir", str(tmp_path / "report")], tmp_path, env=env)
    try:
        wait_for(err, "seeded", process)
        proxy.close()
        process.wait(timeout=300)
    finally:
        proxy.close()
        process.kill()
    lines = err.read_text().strip().splitlines()
    assert "Traceback" not in out.read_text() + err.read_text(), err.read_text()[-5000:]
    try:
        assert process.returncode == 3, err.read_text()[-3000:]
        assert lines[-1].startswith(f"maillab: the Docker engine went away ({proxy.docker_host}: "), lines[-1]
        report = report_in(tmp_path / "report")
        assert report is not None and report["verdict"] == "error"
        assert report["error"] == lines[-1].removeprefix("maillab: ")
        assert report["error"].endswith(f"the lab {report['lab']} may be left: remove it with: maillab down --lab "
                                        f"{report['lab']}")
    finally:  # the lab it left, through the real engine
        for lab_id in labs_of_runner(docker, process.pid):
            down = maillab("down", "--lab", lab_id)
            assert down.returncode == 0, down.stderr
            assert not lab_objects(docker, lab_id)
    assert not runner_objects(docker, process.pid)


def test_five_rehearsals_at_once_on_one_engine_each_pass_and_leave_nothing(images, docker, tmp_path):
    for n in range(5):
        (tmp_path / f"run{n}").mkdir()
    runs = [start(["run", FAST, "--report-dir", str(tmp_path / f"run{n}" / "report")], tmp_path / f"run{n}")
            for n in range(5)]
    try:
        for process, _, _ in runs:
            process.wait(timeout=900)
    finally:
        for process, _, _ in runs:
            process.kill()
    labs = []
    for n, (process, out, err) in enumerate(runs):
        assert process.returncode == 0, f"run {n}: " + out.read_text()[-2000:] + err.read_text()[-3000:]
        report = report_in(tmp_path / f"run{n}" / "report")
        assert report["verdict"] == "pass", report.get("error")
        labs.append(report["lab"])
        assert not lab_objects(docker, report["lab"]) and not runner_objects(docker, process.pid)
    assert len(set(labs)) == 5
