"""Whole rehearsals through the real CLI, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.host import MailHostContainer  # noqa: F401  (import check: the lab package loads)
from lab.images import ensure_mailhost_image
from lab.lab import LABEL, HostConfig, Lab
from runner.phases import Progress, rehearse
from runner.scenario import load_scenario

from .conftest import ROOT, maillab

HERE = Path(__file__).parent / "scenarios"


def report_of(directory: Path) -> dict:
    return json.loads((directory / "report.json").read_text())


def test_default_rehearsal_passes(images, tmp_path):
    run = maillab("run", "scenarios/bullseye-to-bookworm.yaml", "--report-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    report = report_of(tmp_path)
    assert report["verdict"] == "pass"
    assert report["findings"] == []
    assert report["messages"]["old"] == 2027
    assert report["messages"]["new"] == 2027 + 1  # and the smoke-test message sent after the migration
    assert report["clients_would_redownload"] == {"imap": [], "pop3": []}
    assert (tmp_path / "junit.xml").read_text().count("<testcase") >= 14
    assert "PASS: bullseye-to-bookworm" in run.stdout


def test_negative_control_fails_for_the_right_reason(images, tmp_path):
    run = maillab("run", "scenarios/negative-mbsync.yaml", "--report-dir", str(tmp_path))
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    report = report_of(tmp_path)
    classes = {finding["class"] for finding in report["findings"]}
    assert report["verdict"] == "fail"
    assert {"uidvalidity_changed", "subscription_lost", "sieve_lost", "uidl_changed"} <= classes
    assert not {"missing", "duplicate"} & classes, "mbsync copies every message once"
    assert all(step["exit_code"] == 0 for step in report["steps"]), "the tool itself reports success"
    redownload = report["clients_would_redownload"]
    assert {entry["mailbox"] for entry in redownload["imap"]} >= {"INBOX", "Archive/2023"}
    assert redownload["pop3"]
    assert "Clients would re-download mail" in run.stdout


@pytest.mark.parametrize("scenario", sorted(HERE.glob("variant-*.yaml")), ids=lambda p: p.stem)
def test_variants_pass(images, tmp_path, scenario):
    run = maillab("run", str(scenario), "--report-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert report_of(tmp_path)["verdict"] == "pass"


def snapshot_of(directory: Path, role: str) -> dict:
    return json.loads((directory / f"snapshot-{role}.json").read_text())


def same_uidls(directory: Path) -> bool:
    old, new = snapshot_of(directory, "old"), snapshot_of(directory, "new")
    return all(new["users"][u]["pop3_uidls"][: len(v["pop3_uidls"])] == v["pop3_uidls"]
               for u, v in old["users"].items())


# Each migration path's scenario and what its run must show: the exit code, exactly the
# finding classes that come out (tolerated ones included: a declared loss must be seen), and
# a further check on the report directory where the path promises something particular.
PATHS = [
    ("scenarios/imapc-courier.yaml", 0, {"sieve_lost", "guid_changed"}, None),
    ("scenarios/imapc-pop3-migration.yaml", 0, {"sieve_lost", "guid_changed"},
     # old's UIDLs are <uidvalidity><uid> (%08Xv%08Xu), not Dovecot's default, and new keeps them
     lambda d: same_uidls(d) and snapshot_of(d, "new")["users"]["pete@example.net"]["pop3_uidls"][0].endswith("00000001")),
    ("scenarios/negative-pop3-without-migration-plugin.yaml", 1, {"uidl_changed", "sieve_lost", "guid_changed"},
     lambda d: not same_uidls(d) and len(report_of(d)["clients_would_redownload"]["pop3"]) == 2),
    ("scenarios/ispmail-rsync.yaml", 0, set(),
     lambda d: {row["mail_host"] for row in snapshot_of(d, "new")["user_db"]["roundcube.users"].values()} == {"new"}
     and len(snapshot_of(d, "new")["user_db"]["roundcube.contacts"]) == 2 * 12),
    ("scenarios/negative-rsync-without-uidlist.yaml", 1, {"uid_changed", "uidl_changed"},
     lambda d: report_of(d)["clients_would_redownload"]["imap"]),
    ("tests/integration/scenarios/negative-roundcube-mail-host-not-updated.yaml", 1, {"db_row_changed"},
     lambda d: "mail_host is 'old', expected 'new'" in report_of(d)["findings"][0]["detail"]),
    ("scenarios/bookworm-to-trixie.yaml", 0, set(), None),
    ("scenarios/own-script.yaml", 0, set(),
     lambda d: "migrating cem@example.org" in report_of(d)["steps"][-1]["output"]),
    ("scenarios/negative-own-script-subtly-wrong.yaml", 1,
     {"folder_missing", "missing", "subscription_lost", "uidl_changed", "uidvalidity_changed"},
     lambda d: {f["user"] for f in report_of(d)["findings"]} == {"ben@example.org", "cem@example.org"}
     and report_of(d)["steps"][-1]["exit_code"] == 0
     and report_of(d)["messages_per_user"]["ben@example.org"] == {"old": 25, "new": 0}),
    ("scenarios/fifty-users.yaml", 0, set(),
     lambda d: any("-F /root/maillab-users" in s["command"] for s in report_of(d)["steps"])
     and any("-A" in s["command"] for s in report_of(d)["steps"]) and len(snapshot_of(d, "new")["users"]) == 50),
]


@pytest.mark.parametrize(("scenario", "exit_code", "classes", "check"), PATHS, ids=[Path(p[0]).stem for p in PATHS])
def test_migration_path(images, tmp_path, scenario, exit_code, classes, check):
    run = maillab("run", scenario, "--report-dir", str(tmp_path))
    assert run.returncode == exit_code, run.stdout[-3000:] + run.stderr
    report = report_of(tmp_path)
    assert {finding["class"] for finding in report["findings"]} == classes
    assert all(step["ok"] for step in report["steps"]), "each negative control's tools report success"
    assert check is None or check(tmp_path)


def test_maildir_to_mdbox_writes_compressed_storage(images):
    scenario = load_scenario(ROOT / "scenarios/maildir-to-mdbox-compressed.yaml")
    result = rehearse(scenario, Progress(), keep=True)
    try:
        assert result.passed and not result.findings
        storage = "/var/vmail/example.org/uwe/mdbox/storage"
        # every message in the mdbox files starts with the gzip magic (1f 8b 08)
        magic = result.kept["new"].run_checked(
            f"cat {storage}/m.* | od -An -tx1 -v | tr -d '\\n' | grep -o ' 1f 8b 08' | wc -l", "counting").stdout
        assert int(magic) >= 380  # uwe's 380 messages
    finally:
        result.kept.destroy()


IMAPSYNC = os.environ.get("MAILLAB_IMAPSYNC")


@pytest.mark.skipif(not IMAPSYNC, reason="imapsync is in no Debian suite: set MAILLAB_IMAPSYNC to your copy")
def test_imapsync_is_a_client_side_copy(images, tmp_path):
    scenario = (HERE / "negative-imapsync.yaml").read_text().replace("script: imapsync", f"script: {IMAPSYNC}")
    (tmp_path / "negative-imapsync.yaml").write_text(scenario)
    run = maillab("run", str(tmp_path / "negative-imapsync.yaml"), "--report-dir", str(tmp_path))
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    classes = {finding["class"] for finding in report_of(tmp_path)["findings"]}
    assert {"uidvalidity_changed", "sieve_lost", "uidl_changed"} <= classes and "missing" not in classes


def test_every_shipped_scenario_is_rehearsed():
    rehearsed = {p[0] for p in PATHS} | {"scenarios/maildir-to-mdbox-compressed.yaml", "scenarios/bullseye-to-bookworm.yaml", "scenarios/negative-mbsync.yaml",
                                             "scenarios/delta-update.yaml", "scenarios/ssh-push-passwd-file.yaml"}
    shipped = {str(path.relative_to(ROOT)) for path in (ROOT / "scenarios").glob("*.yaml")}
    assert shipped <= rehearsed, shipped - rehearsed


def test_delta_update_keeps_mail_from_both_sides_of_the_cutover(images, tmp_path):
    run = maillab("run", "scenarios/delta-update.yaml", "--report-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    report = report_of(tmp_path)
    assert report["verdict"] == "pass"
    # the declared loss: only the messages that reached old after the initial copy (4 per user)
    # can collide with the UIDs of the mail that reached new after the switch
    renumbered = [f for f in report["findings"] if f["class"] == "uid_changed"]
    assert {f["class"] for f in report["findings"]} <= {"uid_changed", "uidl_changed"}
    assert all(f["tolerated"] for f in report["findings"]) and 0 < len(renumbered) <= 2 * 4
    # old after the cutover: seeded 340, plus 3 + 4 messages per user sent to it over SMTP
    assert report["messages"]["old"] == 340 + 2 * (3 + 4)
    # new: all of that, plus 2 per user sent to it after the MX switch, plus the smoke test
    assert report["messages"]["new"] == report["messages"]["old"] + 2 * 2 + 1
    assert any("sync -1" in step["command"] for step in report["steps"])


def test_a_second_backup_after_mail_reached_both_servers_loses_mail_silently(images, tmp_path):
    run = maillab("run", "tests/integration/scenarios/negative-delta-with-backup.yaml", "--report-dir", str(tmp_path))
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    report = report_of(tmp_path)
    assert all(step["exit_code"] == 0 for step in report["steps"]), "doveadm itself reports success"
    missing = [f for f in report["findings"] if f["class"] == "missing"]
    assert {f["class"] for f in report["findings"]} == {"missing", "uidl_changed"}
    assert [f["detail"].split(",")[0].split(".")[1] for f in missing] == ["old", "old"]  # <cutover.old.N...>


def test_ssh_push_migrates_and_the_key_is_gone_afterwards(images, tmp_path):
    run = maillab("run", "scenarios/ssh-push-passwd-file.yaml", "--report-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    report = report_of(tmp_path)
    assert report["verdict"] == "pass" and report["findings"] == []
    commands = [step["command"] for step in report["steps"]]
    assert any("doveadm" in c and "backup -u user1@example.jp remote:root@new" in c for c in commands)
    refused = [step for step in report["steps"] if "must now be refused" in step["step"]]
    assert refused and all(step["exit_code"] == 255 and step["ok"] for step in refused)


def test_ctrl_c_tears_the_lab_down(images, docker, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", "from runner.cli import main; main()", "run", "scenarios/bullseye-to-bookworm.yaml",
         "--report-dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    for line in process.stdout:
        output += line
        if "seeded alice" in line:  # the lab exists and is busy
            break
    assert docker.containers.list(filters={"label": LABEL})
    process.send_signal(signal.SIGINT)
    output += process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "interrupted; the lab was removed" in output
    assert "Traceback" not in output
    assert not docker.containers.list(all=True, filters={"label": LABEL})
    assert not docker.networks.list(filters={"label": LABEL})


def test_a_second_build_builds_nothing(images, docker):
    assert ensure_mailhost_image(docker, "bookworm", lambda _: None) is False


def test_trixie_builds_and_starts_with_dovecot_24(docker, progress):
    ensure_mailhost_image(docker, "trixie", progress)
    with Lab({"new": HostConfig(suite="trixie")}) as lab:  # ready = MariaDB, EHLO and IMAP LOGIN work
        assert lab["new"].run(["dovecot", "--version"]).stdout.startswith("2.4")


BAD_INPUT = [
    (["run", "scenarios/nope.yaml"], "scenarios/nope.yaml: cannot read the scenario"),
    (["run"], "Missing argument 'SCENARIO'"),
    (["run", "scenarios/bullseye-to-bookworm.yaml", "--frobnicate"], "No such option"),
    (["build", "buster"], "unknown suite 'buster'"),
    (["validate", "tests/integration/scenarios/invalid-suite.yaml"], "invalid-suite.yaml:6: hosts.new.suite"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(args, message):
    run = maillab(*args)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_unreachable_docker_is_one_line_and_exit_3():
    env = dict(os.environ, DOCKER_HOST="tcp://127.0.0.1:9")  # nothing listens on the discard port
    run = maillab("down", env=env)
    assert run.returncode == 3, run.stderr
    assert "cannot reach the Docker engine" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_down_removes_only_labelled_objects(images, docker):
    bystander = docker.networks.create("maillab-test-bystander")  # not labelled: must survive
    try:
        lab = Lab({"old": HostConfig(suite="bookworm")})
        lab.create()  # no context manager: as if the runner had been killed
        run = maillab("down")
        assert run.returncode == 0, run.stderr
        assert "removed 1 containers and 1 networks" in run.stdout
        assert docker.networks.get(bystander.id)
    finally:
        bystander.remove()
