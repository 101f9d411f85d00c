"""Which labs `maillab down` removes, from their labels and the runners' processes (no Docker)."""

import socket
import subprocess

import psutil
import pytest

from maillab.lab.lab import RUNNER_HOST, RUNNER_PID, RUNNER_STARTED, LabInfo, choose_labs, runner_gone

RUNNING = LabInfo("mlrun", 2, 1, "host pid 10", "-", kept=False, stale=False)
STALE = LabInfo("mlgone", 2, 1, "host pid 11", "-", kept=False, stale=True)
KEPT = LabInfo("mlkept", 2, 1, "host pid 12", "-", kept=True, stale=False)
LABS = [RUNNING, STALE, KEPT]


@pytest.mark.parametrize(("lab_id", "everything", "removed"), [
    (None, False, [STALE]),  # the default: only labs whose runner is gone
    ("mlrun", False, [RUNNING]),  # named: whoever runs it
    ("mlkept", False, [KEPT]),
    (None, True, LABS),  # --all
    ("mlnone", False, []),
])
def test_down_removes_the_stale_labs_unless_told_otherwise(lab_id, everything, removed):
    assert choose_labs(LABS, lab_id, everything) == removed


def test_a_runner_is_gone_when_its_process_ended_or_is_another_process_now():
    me = psutil.Process()
    labels = {RUNNER_HOST: socket.gethostname(), RUNNER_PID: str(me.pid), RUNNER_STARTED: f"{me.create_time():.2f}"}
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert not runner_gone(labels)
    assert runner_gone(labels | {RUNNER_STARTED: "1.00"})  # the pid belongs to another process now
    assert runner_gone(labels | {RUNNER_PID: str(ended.pid)})
    assert not runner_gone(labels | {RUNNER_HOST: "elsewhere"})  # another machine's runner: not ours to judge
    assert not runner_gone({})  # a lab without a runner (compose)
