"""Kept labs' records (runner/entry/kept.py): which lab a later command means, and what is
forgotten. No Docker: the engine's running labs are given as a set."""

from __future__ import annotations

import stat

import pytest

from maillab.runner.entry import kept
from tests.unit.states import state as host_state

RECORD = dict(scenario="/x/s.yaml", seed=1, passwords={"a@example.org": "pw"}, doveadm="d",
              hosts={"old": kept.KeptHost(db="b", probe="p"), "new": kept.KeptHost(db="b2", probe="p2")})


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_STATE_DIR", str(tmp_path))
    return tmp_path


def keep(lab_id: str) -> kept.KeptLab:
    record = kept.KeptLab(lab_id=lab_id, **RECORD)
    kept.save(record, host_state())
    return record


def test_a_record_comes_back_with_its_baseline_and_is_private(state_dir):
    record = keep("ml00000001")
    assert kept.choose(None, {"ml00000001"}) == record
    assert kept.load_baseline(record) == host_state()
    assert stat.S_IMODE((state_dir / "labs" / "ml00000001" / "lab.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(("labs", "running", "lab_id", "error"), [
    ([], set(), None, "no lab is kept running: start one with `maillab up SCENARIO`"),
    (["ml00000001", "ml00000002"], {"ml00000001", "ml00000002"}, None,
     "several labs are kept running (ml00000001, ml00000002): name one with --lab ID"),
    (["ml00000001"], {"ml00000001"}, "ml00000009",
     "--lab ml00000009: no lab kept by `maillab up` with that id is running (see: maillab status)"),
    (["ml00000001"], set(), "ml00000001",
     "--lab ml00000001: no lab kept by `maillab up` with that id is running (see: maillab status)"),
])
def test_which_lab_is_meant(labs, running, lab_id, error):
    for name in labs:
        keep(name)
    with pytest.raises(kept.NoKeptLab, match="^" + error.replace("(", r"\(").replace(")", r"\)") + "$"):
        kept.choose(lab_id, running)


def test_records_of_labs_gone_are_forgotten_and_the_one_left_is_chosen(state_dir):
    keep("ml00000001")
    keep("ml00000002")
    assert kept.choose(None, {"ml00000002"}).lab_id == "ml00000002"
    assert sorted(path.name for path in (state_dir / "labs").iterdir()) == ["ml00000002"]


def test_a_half_written_record_is_skipped(state_dir):
    keep("ml00000001")
    (state_dir / "labs" / "ml00000002").mkdir()
    (state_dir / "labs" / "ml00000002" / "lab.json").write_text('{"lab_id": "ml00000002", "sce')
    assert [record.lab_id for record in kept.records()] == ["ml00000001"]
