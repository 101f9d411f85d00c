"""Labs kept running on purpose (`maillab up`, `maillab exercise start`): what a later
`maillab check`, `shell` or `exercise` command needs to find the lab again, judge it and
grade it. One folder per lab under the state directory (lab/state_dir.py):

  labs/<id>/lab.json        the record below (user passwords and the lab's secrets: mode 0600)
  labs/<id>/baseline.json   old as the trainee found it, before any migration (the reference)

The record is pure data; the lab's containers are found again by their names and labels.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel

from ...lab.lab_id import is_lab_id
from ...lab.state_dir import state_dir
from ..methods.context import StepResult
from ..rehearsal.on_disk import read_snapshot, write_snapshot
from ..rehearsal.state import HostState


class KeptHost(BaseModel):
    db: str
    probe: str


class KeptLab(BaseModel):
    lab_id: str
    scenario: Path  # absolute: check reloads its expectations from there
    seed: int
    exercise: str | None = None  # the exercise's name when `maillab exercise start` made it
    passwords: dict[str, str]  # the scenario's users
    doveadm: str
    hosts: dict[str, KeptHost]
    arrivals: list[tuple[str, str]] = []  # (user, Message-ID) sent to new by the setup steps
    steps: list[StepResult] = []  # what the setup steps did
    hints_shown: int = 0


class NoKeptLab(Exception):
    """No kept lab fits (none, several without --lab, or the one named is gone): one line."""


def _folder(lab_id: str) -> Path:
    if not is_lab_id(lab_id):  # never a path: '../../..' from a label would leave the state folder
        raise ValueError(f"not a lab id: {lab_id!r}")
    return state_dir() / "labs" / lab_id


def save(record: KeptLab, baseline: HostState) -> Path:
    folder = _folder(record.lab_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_snapshot(baseline, folder / "baseline.json")
    path = folder / "lab.json"
    path.touch(mode=0o600)
    path.write_text(record.model_dump_json(indent=1) + "\n")
    return folder


def update(record: KeptLab) -> None:
    (_folder(record.lab_id) / "lab.json").write_text(record.model_dump_json(indent=1) + "\n")


def load_baseline(record: KeptLab) -> HostState:
    return read_snapshot(_folder(record.lab_id) / "baseline.json")


def records() -> list[KeptLab]:
    found = []
    for path in sorted((state_dir() / "labs").glob("*/lab.json")):
        try:
            record = KeptLab.model_validate_json(path.read_bytes())
            _folder(record.lab_id)  # a record naming another folder is not the lab's
            found.append(record)
        except ValueError:
            continue  # a record half written when its runner was killed: the lab is not usable
    return found


def forget(lab_id: str) -> None:
    shutil.rmtree(_folder(lab_id), ignore_errors=True)


def choose(lab_id: str | None, running: set[str]) -> KeptLab:
    """The kept lab named, or the only one whose containers still run. Records of labs that
    are gone (removed with `maillab down`, or by hand) are forgotten on the way."""
    present = []
    for record in records():
        if record.lab_id in running:
            present.append(record)
        else:
            forget(record.lab_id)
    if lab_id:
        for record in present:
            if record.lab_id == lab_id:
                return record
        raise NoKeptLab(f"--lab {lab_id}: no lab kept by `maillab up` with that id is running (see: maillab status)")
    if not present:
        raise NoKeptLab("no lab is kept running: start one with `maillab up SCENARIO`")
    if len(present) > 1:
        raise NoKeptLab(f"several labs are kept running ({', '.join(r.lab_id for r in present)}): name one with --lab ID")
    return present[0]
