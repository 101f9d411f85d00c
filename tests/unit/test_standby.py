"""Labs on standby's records and keys (lab/standby.py): who may take one, and what one is for.
No Docker: the records are files in the state directory."""

from __future__ import annotations

import stat
import threading

import pytest
from click.testing import CliRunner

from maillab.lab import standby
from maillab.runner.entry.cli import EXIT_BAD_INPUT, app

RUNNER = {"maillab.runner.host": "here", "maillab.runner.pid": "42", "maillab.runner.started": "1.00"}
HOSTS = {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}}
IMAGES = {"old": "sha256:1", "new": "sha256:2", "forwarder": "sha256:3"}


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_STATE_DIR", str(tmp_path))
    return tmp_path


def record(lab_id: str = "ml00000001", key: str = "k1", scenario: str = "s") -> standby.StandbyRecord:
    return standby.StandbyRecord(lab_id=lab_id, scenario=scenario, key=key, doveadm="d",
                                 hosts={"old": ("db1", "p1"), "new": ("db2", "p2")})


def test_a_lab_waits_until_one_runner_claims_it_and_its_record_is_private(state_dir):
    standby.save(record())
    assert stat.S_IMODE((state_dir / "standby").stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / "standby" / "ml00000001.json").stat().st_mode) == 0o600
    assert standby.state_of("ml00000001") == (True, None)
    assert standby.claim("other key", RUNNER) is None
    claimed = standby.claim("k1", RUNNER)
    assert (claimed.lab_id, claimed.hosts["new"], claimed.claimed_by) == ("ml00000001", ("db2", "p2"), RUNNER)
    assert standby.state_of("ml00000001") == (False, RUNNER)  # the claimer's now
    assert standby.claim("k1", RUNNER) is None and standby.waiting() == []
    standby.release("ml00000001")
    assert standby.state_of("ml00000001") == (False, None) and list((state_dir / "standby").iterdir()) == []


def test_of_runners_claiming_at_once_one_takes_the_lab():
    standby.save(record())
    barrier, taken = threading.Barrier(8), []

    def claim() -> None:
        barrier.wait()
        taken.append(standby.claim("k1", RUNNER))
    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(found is not None for found in taken) == 1


def test_a_half_written_record_or_one_naming_another_lab_is_never_taken(state_dir):
    (state_dir / "standby").mkdir()
    (state_dir / "standby" / "ml00000002.json").write_text('{"lab_id": "ml0000')
    (state_dir / "standby" / "ml00000003.json").write_text(record("ml00000004").model_dump_json())
    (state_dir / "standby" / "evil.json").write_text(record("../../x").model_dump_json())
    assert standby.waiting() == [] and standby.claim("k1", RUNNER) is None


@pytest.mark.parametrize("changed", [
    {"scenario": "another scenario"},
    {"hosts": {**HOSTS, "new": {"suite": "trixie"}}},
    {"hosts": {**HOSTS, "old": {"suite": "bullseye", "mail_format": "mdbox"}}},
    {"images": {**IMAGES, "old": "sha256:rebuilt"}},
    {"images": {**IMAGES, "forwarder": "sha256:rebuilt"}},
], ids=["scenario", "a host's suite", "a host's setting", "old's image", "the forwarder's image"])
def test_another_scenario_host_or_image_is_another_key(changed):
    given = {"scenario": "s", "hosts": HOSTS, "images": IMAGES}
    assert standby.key_of(**given) == standby.key_of(**given)
    assert standby.key_of(**(given | changed)) != standby.key_of(**given)


def test_another_lab_code_is_another_key(monkeypatch):
    before = standby.key_of("s", HOSTS, IMAGES)
    monkeypatch.setattr(standby, "_lab_code", lambda: "edited")
    assert standby.key_of("s", HOSTS, IMAGES) != before


@pytest.mark.parametrize("given, why", [
    ((False, False, False, False), None),
    ((True, True, False, False), "a live cutover's lab"),
    ((False, False, True, False), "an upgrade in place"),
    ((False, False, False, True), "the admin's own configuration"),
])
def test_what_cannot_stand_by(given, why):
    assert standby.why_not(*given) == why


@pytest.mark.parametrize("options", [["--keep"], ["--interrupt-sweep", "3"]])
def test_standby_is_refused_beside_a_kept_lab_or_a_sweep(options):
    run = CliRunner().invoke(app, ["run", "scenarios/bullseye-to-bookworm.yaml", "--standby", *options])
    assert run.exit_code == EXIT_BAD_INPUT and "--standby" in run.output and "Traceback" not in run.output
