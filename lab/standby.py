"""Labs on standby (docs/rehearsal.md, "A lab on standby"). An admin reruns the same rehearsal
after every edit of their script, and a third of a run is its lab starting. `maillab run
--standby` leaves, while its own lab is removed, a lab started for the next run of the same
scenario, whose machines then boot while the admin edits; the next run claims it instead of
making one, and checks that it answers as every new lab is checked.

A lab on standby is the lab that next run would make: its key is the scenario's name, its
hosts as the schema reads them, the ids of the images and the lab code that makes the
machines from them, so a changed scenario, image or maillab never takes one made before.
Its record (the lab's secrets, mode 0600) is `standby/<lab id>.json` in the state
directory; a runner claims it by renaming it, which only one of two runners can do, and
writes itself into it: the lab is then that runner's, as the labels say of any other lab.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .lab_id import is_lab_id
from .state_dir import state_dir

STANDBY = "maillab.standby"  # the label: the key of the lab it stands in for
FORMAT = 1  # what a record holds and what a key is made of: another format, another key
WAITING, CLAIMED = ".json", ".claimed"


class StandbyRecord(BaseModel):
    lab_id: str
    scenario: str
    key: str
    doveadm: str
    hosts: dict[str, tuple[str, str]]  # role -> (database password, probe password)
    claimed_by: dict[str, str] = {}  # the claiming runner's labels (host, pid, start time)


def why_not(internet: bool, tls: bool, upgrades: bool, configs: bool) -> str | None:
    """Why a lab cannot stand by, or None: what a live cutover's or an upgrade's lab is made
    with (certificates, the internet, upgrade images) and the admin's own configuration (its
    files are read when the host starts) belong to the run."""
    reasons = [why for why, holds in (("a live cutover's lab", internet or tls), ("an upgrade in place", upgrades),
                                      ("the admin's own configuration", configs)) if holds]
    return ", ".join(reasons) or None


@functools.cache
def _lab_code() -> str:
    """A digest of the code that makes the lab's machines (this package)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def key_of(scenario: str, hosts: dict[str, dict], images: dict[str, str]) -> str:
    """The key of the lab `scenario` makes with `hosts` (role -> the host's spec as JSON data)
    from `images` (role -> image id)."""
    text = json.dumps({"format": FORMAT, "scenario": scenario, "hosts": hosts, "images": images, "code": _lab_code()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _folder() -> Path:
    return state_dir() / "standby"


def _path(lab_id: str, suffix: str) -> Path:
    if not is_lab_id(lab_id):  # never a path: a record or a label naming '../..' is not a lab's
        raise ValueError(f"not a lab id: {lab_id!r}")
    return _folder() / f"{lab_id}{suffix}"


def _write(record: StandbyRecord, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(record.model_dump_json(indent=1) + "\n")


def _read(path: Path) -> StandbyRecord | None:
    try:
        record = StandbyRecord.model_validate_json(path.read_bytes())
        return record if _path(record.lab_id, path.suffix) == path else None
    except (OSError, ValidationError, ValueError):
        return None  # gone meanwhile, or half written when its runner was killed


def save(record: StandbyRecord) -> None:
    """A lab now on standby (written aside and renamed: a claimer never reads half of it)."""
    partial = _path(record.lab_id, ".partial")
    _write(record, partial)
    os.replace(partial, _path(record.lab_id, WAITING))


def waiting() -> list[StandbyRecord]:
    """The labs on standby that no runner has claimed."""
    return [record for path in sorted(_folder().glob(f"*{WAITING}")) if (record := _read(path))]


def claim(key: str, runner: dict[str, str]) -> StandbyRecord | None:
    """A lab on standby with `key`, now `runner`'s, or None."""
    for record in waiting():
        if record.key != key:
            continue
        claimed = _path(record.lab_id, CLAIMED)
        try:
            os.rename(_path(record.lab_id, WAITING), claimed)  # of two runners, one renames it
        except FileNotFoundError:
            continue
        record.claimed_by = runner
        _write(record, claimed)
        return record
    return None


def state_of(lab_id: str) -> tuple[bool, dict[str, str] | None]:
    """(whether the lab waits on standby, the labels of the runner that claimed it or None)."""
    try:
        if _path(lab_id, WAITING).exists():
            return True, None
        record = _read(_path(lab_id, CLAIMED))
    except ValueError:
        return False, None
    return False, record.claimed_by if record else None


def release(lab_id: str) -> None:
    """Forget the lab's record (the lab is removed)."""
    for suffix in (WAITING, CLAIMED, ".partial"):
        _path(lab_id, suffix).unlink(missing_ok=True)
