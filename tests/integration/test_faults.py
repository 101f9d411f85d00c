"""Faults against real servers: each shipped fault scenario through the real CLI, with the
exit code and exactly the finding classes it must give, and what the fault must have done;
and the interrupt sweep of the default rehearsal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import maillab
from .test_rehearsals import report_of


def steps_of(directory: Path) -> list[dict]:
    return report_of(directory)["steps"]


def struck(directory: Path) -> list[dict]:
    return [fault for fault in report_of(directory)["faults"] if fault["struck_at_s"] is not None]


def interrupted(directory: Path, exit_codes: set[int | None]) -> bool:
    """The fault ended a step with one of `exit_codes` (None: a command that never answered),
    and the rerun of that step succeeded."""
    failed = [step for step in steps_of(directory) if step["resumed"]]
    reruns = [step for step in steps_of(directory) if step["step"].startswith("resume 1: ")]
    return bool(failed) and {step["exit_code"] for step in failed} <= exit_codes and reruns \
        and all(step["ok"] for step in reruns)


# (scenario, exit code, exactly the finding classes, what the fault must have done)
FAULTS = [
    ("scenarios/interrupted-backup.yaml", 0, set(),
     lambda d: interrupted(d, {137}) and "killed 'doveadm" in struck(d)[0]["detail"]),
    # old off the network for 5 s: the ssh session stalls and survives (TCP retransmits), or
    # doveadm gives up (75) and the rerun converges
    ("scenarios/network-cut-during-ssh-push.yaml", 0, set(),
     lambda d: len(struck(d)) == 1 and (interrupted(d, {75}) or not any(s["resumed"] for s in steps_of(d)))),
    ("scenarios/new-server-reboots.yaml", 0, set(),
     # the shutdown's SIGTERM: doveadm stops as for a temporary failure (75)
     lambda d: interrupted(d, {75, 137, 143}) and "answered again" in struck(d)[0]["detail"]),
    # the same with the admin's own store in PostgreSQL, which the host starts again before its services
    ("tests/integration/scenarios/fault-new-reboots-with-pgsql-store.yaml", 0, set(),
     lambda d: interrupted(d, {75, 137, 143}) and "answered again" in struck(d)[0]["detail"]),
    ("scenarios/disk-full-then-freed.yaml", 0, set(),
     lambda d: interrupted(d, {75})
     and any("No space left on device" in s["first_error"] + s["output"] for s in steps_of(d) if s["resumed"])),
    # doveadm backup ignores the quota: every message arrives, and Dovecot counts the user over it
    ("scenarios/over-quota-user.yaml", 0, set(),
     lambda d: not any(s["resumed"] for s in steps_of(d)) and "KiB against a limit of 98 KiB" in struck(d)[0]["detail"]
     and report_of(d)["messages_per_user"]["hal@example.org"] == {"old": 400, "new": 400}),
    # the other faults, on the methods they hit hardest
    ("tests/integration/scenarios/fault-dovecot-restarted-on-old-during-imapc.yaml", 0, {"guid_changed"},
     lambda d: "supervisorctl restart dovecot" in struck(d)[0]["detail"]
     and (interrupted(d, {75, 1}) or not any(s["resumed"] for s in steps_of(d)))),
    ("tests/integration/scenarios/fault-old-crashes-during-backup.yaml", 0, set(),
     lambda d: "IMAP answered after" in struck(d)[0]["detail"]
     and (interrupted(d, {75}) or not any(s["resumed"] for s in steps_of(d)))),
    ("scenarios/negative-interrupted-script-not-idempotent.yaml", 1, {"folder_missing", "subscription_lost", "uidl_changed"},
     lambda d: {f["user"] for f in report_of(d)["findings"]} == {"kim@example.org", "lu@example.org"}
     and "Duplicate entry" in steps_of(d)[-1]["output"] and not steps_of(d)[-1]["ok"]),
]


@pytest.mark.parametrize(("scenario", "exit_code", "classes", "check"), FAULTS, ids=[Path(f[0]).stem for f in FAULTS])
def test_fault_scenario(images, tmp_path, scenario, exit_code, classes, check):
    run = maillab("run", scenario, "--report-dir", str(tmp_path))
    assert run.returncode == exit_code, run.stdout[-3000:] + run.stderr
    assert {finding["class"] for finding in report_of(tmp_path)["findings"]} == classes
    assert struck(tmp_path), "the fault struck"
    assert check(tmp_path), json.dumps({k: report_of(tmp_path)[k] for k in ("steps", "faults")}, indent=1)[-4000:]


# What a SIGKILLed `doveadm backup -R -A` has left that no rerun repaired (docs/faults.md),
# which the sweep must then report: keywords renamed unknown-N; or a user whose mailboxes new
# had made with UIDVALIDITYs of its own, so that every rerun logs "INBOX can't be deleted"
# for that user, skips them and still exits 0.
UNKNOWN_KEYWORD = re.compile(r" -> (.* )?unknown-\d+")
STUCK_USER = re.compile(r"doveadm\((?P<user>[^)]+)\)<[^>]*><[^>]*>: Error: Mailbox INBOX sync: mailbox_delete failed: "
                        r"INBOX can't be deleted")


def left_as_docs_faults_says(point: Path) -> bool:
    report = report_of(point)
    stuck = {match["user"] for step in report["steps"] if step["step"].startswith("resume 1: ")
             for match in STUCK_USER.finditer(step["output"])}
    return bool(report["findings"]) and all(
        (f["class"] == "keywords_changed" and UNKNOWN_KEYWORD.search(f["detail"])) or f["user"] in stuck
        for f in report["findings"])


def test_the_default_rehearsal_converges_wherever_it_is_interrupted(images, tmp_path):
    run = maillab("run", "scenarios/bullseye-to-bookworm.yaml", "--interrupt-sweep", "5", "--report-dir", str(tmp_path))
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert len(sweep["points"]) == 5, run.stdout[-3000:] + run.stderr
    unconverged = [n for n, point in enumerate(sweep["points"], 1) if not point["converged"]]
    assert all(left_as_docs_faults_says(tmp_path / f"point-{n}") for n in unconverged), run.stdout[-3000:] + run.stderr
    assert (run.returncode, sweep["verdict"]) == ((1, "fail") if unconverged else (0, "pass")), run.stderr
    moments = [point["at_s"] for point in sweep["points"]]
    assert moments == sorted(moments) and 0 < moments[0] and moments[-1] < sweep["converge_s"]
    assert sum(point["interrupted_exit"] != "-" for point in sweep["points"]) >= 3, "most points kill a command"
    assert "Interrupt sweep" in run.stdout
    if not unconverged:
        assert "PASS: bullseye-to-bookworm: converged after every one of 5" in run.stdout
    for n in range(1, 6):
        assert report_of(tmp_path / f"point-{n}")["verdict"] == ("fail" if n in unconverged else "pass")
