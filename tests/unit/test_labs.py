"""Which labs `maillab down` removes, from their labels and the runners' processes (no Docker)."""

import json
import socket
import subprocess

import psutil
import pytest
from click.testing import CliRunner

from maillab.lab.lab import RUNNER_HOST, RUNNER_PID, RUNNER_STARTED, LabInfo, choose_labs, find_labs, runner_gone
from maillab.lab.lab_id import is_lab_id, new_lab_id
from maillab.runner.entry import kept
from maillab.runner.entry.cli import app

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


class _Labelled:
    """A container or network as find_labs reads it."""

    def __init__(self, lab_id: str) -> None:
        self.labels = {"maillab.lab": lab_id}
        self.attrs = {"Labels": self.labels, "Created": "2026-01-01T00:00:00.000000000Z"}


class _Client:
    def __init__(self, *lab_ids: str) -> None:
        listed = [_Labelled(lab_id) for lab_id in lab_ids]
        self.containers = self.networks = type("Objects", (), {"list": lambda *_, **__: listed})()


@pytest.mark.parametrize("foreign", ["../../..", "ml1234567", "ml12345678/..", "ML1234ABCD", "mlabcdef01 ", "compose-123"])
def test_a_label_not_shaped_like_a_lab_id_is_ignored_and_down_warns(foreign, caplog):
    assert [lab.id for lab in find_labs(_Client("ml0123abcd", "compose-0123abcd", foreign))] == [
        "compose-0123abcd", "ml0123abcd"]
    assert caplog.text == ""  # only `maillab down` says what it leaves alone
    assert len(find_labs(_Client("ml0123abcd", foreign), warn_foreign=True)) == 1
    assert "not a lab id maillab makes" in caplog.text and repr(foreign) in caplog.text


def test_a_new_lab_id_has_the_accepted_shape():
    assert is_lab_id(new_lab_id()) and is_lab_id(new_lab_id("compose-"))
    assert not is_lab_id("..") and not is_lab_id("ml0123abcd\n")


def test_kept_never_touches_a_folder_named_by_something_else(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "precious").mkdir()
    (tmp_path / "state" / "labs" / "x").mkdir(parents=True)
    (tmp_path / "state" / "labs" / "x" / "lab.json").write_text(json.dumps(
        {"lab_id": "../../precious", "scenario": "/s.yaml", "seed": 1, "passwords": {}, "doveadm": "d", "hosts": {}}))
    assert kept.records() == []
    with pytest.raises(ValueError, match="not a lab id"):
        kept.forget("../../precious")
    assert (tmp_path / "precious").is_dir()


@pytest.mark.parametrize("command", [["down", "--lab", "../../.."], ["check", "--lab", "x"], ["shell", "old", "--lab", "ml"]])
def test_lab_on_the_command_line_must_be_a_lab_id(command):
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"maillab: --lab {command[-1]}: not a lab id (ml or compose- and 8 hex digits, as `maillab status` lists them)"]
