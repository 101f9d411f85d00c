"""The report, from finished rehearsals built by hand: the re-download answer, the verdict line,
report.json and junit.xml. No Docker."""

import json

import pytest
from junitparser import JUnitXml
from rich.console import Console

from maillab.runner.methods.context import StepResult
from maillab.runner.rehearsal.compare import judge
from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.rehearsal.on_disk import write_snapshot
from maillab.runner.rehearsal.state import Evidence, HostState
from maillab.runner.reports.checks import check_rows, messages_per_user, redownload
from maillab.runner.reports.json_report import write_reports
from maillab.runner.reports.terminal import render, verdict_line
from maillab.runner.schema.scenario import Scenario

from .states import USER, archive, inbox, state, user

SCENARIO = Scenario.model_validate({
    "name": "unit", "description": "a report", "hosts": {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}},
    "users": [{"address": USER}], "steps": [{"method": "doveadm_backup"}], "expect": {"lost": ["guids"]},
})
STEP = StepResult(step="doveadm backup -R -A (on new)", host="new", command="doveadm backup -R -A tcp:old:12345",
                  exit_code=0, meaning="success", ok=True, seconds=1.5)


def rehearsal(break_new=lambda s: None, break_old=lambda s: None, **more) -> Rehearsal:
    baseline, old, new = state(), state(), state()
    break_new(new)
    break_old(old)
    result = Rehearsal(scenario=SCENARIO, lab_id="mltest", baseline=baseline, old=old, new=new, converged=new,
                       **({"steps": [STEP]} | more))
    result.findings = judge(Evidence(baseline=baseline, old=old, new=new, converged=new), SCENARIO.expect)
    return result


def renumbered_archive(s):
    archive(s).uidvalidity = 999


def uidls_changed(s):
    user(s).pop3_uidls = ["x", "y", "z"]


def test_a_clean_migration_passes_and_nobody_redownloads():
    result = rehearsal()
    assert verdict_line(result) == "PASS: unit: every expectation held"
    assert redownload(result) == {"imap": [], "pop3": []}
    assert {prop: status for prop, status, _ in check_rows(result) if status != "held"} == {
        "tls": "not checked: no live cutover: the lab serves no TLS"}


def test_redownload_names_users_folders_and_counts():
    result = rehearsal(lambda s: (renumbered_archive(s), uidls_changed(s)))
    again = redownload(result)
    assert again["imap"] == [{"user": USER, "mailbox": "Archive", "messages": 2,
                              "reason": "UIDVALIDITY changed (101 -> 999): clients drop their cache"}]
    assert [entry["user"] for entry in again["pop3"]] == [USER]


def test_a_declared_loss_passes_and_says_so():
    result = rehearsal(lambda s: setattr(inbox(s).messages[0], "guid", "other"))
    assert verdict_line(result) == "PASS: unit: every expectation held (1 tolerated findings)"
    assert dict((p, s) for p, s, _ in check_rows(result))["guids"] == "tolerated loss"


def test_damage_to_the_source_comes_first_in_the_verdict():
    result = rehearsal(lambda s: inbox(s).messages.clear(), lambda s: inbox(s).messages.clear())
    line = verdict_line(result)
    assert line.startswith("FAIL: unit: the source was damaged: 1 places on old changed (a@example.org INBOX); ")
    assert line.endswith("findings: missing, source_changed")


def test_a_failed_step_is_named():
    result = rehearsal(steps=[STEP.model_copy(update={"ok": False, "exit_code": 75, "meaning": "temporary failure"})])
    assert verdict_line(result) == "FAIL: unit: step failed: doveadm backup -R -A (on new)"


def test_an_error_is_the_verdict_and_still_reported(tmp_path):
    result = Rehearsal(scenario=SCENARIO, lab_id="mltest", steps=[STEP],
                       error="ExecTimeout: 'doveadm backup' on new did not finish within 5 s and was killed")
    assert result.verdict == "error"
    assert verdict_line(result).startswith("ERROR: unit: ExecTimeout: 'doveadm backup' on new")
    write_reports(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["verdict"], report["error"]) == ("error", result.error)
    assert [s["step"] for s in report["steps"]] == [STEP.step]
    [suite] = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    [errored] = [case for case in suite if case.name == "rehearsal"]
    assert errored.result[0].message == result.error


def test_an_error_with_terminal_codes_still_makes_valid_junit(tmp_path):
    result = Rehearsal(scenario=SCENARIO, lab_id="mltest", steps=[STEP],
                       error="building maillab/mailhost:trixie failed: \x1b[31mpostalias: fatal\x1b[0m \x00")
    write_reports(result, tmp_path)
    [suite] = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    [errored] = [case for case in suite if case.name == "rehearsal"]
    assert errored.result[0].message == "building maillab/mailhost:trixie failed: \\x1b[31mpostalias: fatal\\x1b[0m \\x00"
    assert json.loads((tmp_path / "report.json").read_text())["error"] == result.error


def test_a_snapshot_written_user_by_user_reads_back_as_itself(tmp_path):
    for host in (state(), state().model_copy(update={"users": {}})):
        write_snapshot(host, tmp_path / "snapshot.json")
        assert HostState.model_validate_json((tmp_path / "snapshot.json").read_bytes()) == host


def test_json_and_junit_carry_the_findings(tmp_path):
    result = rehearsal(lambda s: inbox(s).messages.pop(1))
    write_reports(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "fail"
    assert [(f["class"], f["user"], f["mailbox"], f["uid"], f["property"]) for f in report["findings"]] == \
        [("missing", USER, "INBOX", 2, "messages")]
    assert report["messages_per_user"] == {USER: {"old": 5, "new": 4}}
    assert {(tmp_path / name).exists() for name in ("snapshot-old.json", "snapshot-new.json", "snapshot-old-after.json")} == {True}
    [suite] = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    failed = {case.name for case in suite if case.result and case.result[0]._tag == "failure"}
    assert failed == {"preserved: messages"}


def test_properties_the_run_could_not_see_are_not_checked():
    def imap_down(s):
        s.unanswered["IMAP"] = "Connection refused"
        for u in s.users.values():
            u.folders, u.subscriptions = {}, []
    result = rehearsal(imap_down)
    rows = dict((p, s) for p, s, _ in check_rows(result))
    assert rows["services"] == "LOST"
    assert rows["messages"] == rows["subscriptions"] == "not checked: new does not answer IMAP"
    assert messages_per_user(result) == {USER: {"old": 5, "new": 0}}


def test_what_old_did_not_answer_is_not_checked_either():
    def pop3_down(s):  # old's POP3 refused every login when the baseline was taken
        s.unanswered["POP3"] = "-ERR EOF"
        for u in s.users.values():
            u.pop3_uidls = []
    result = rehearsal()
    pop3_down(result.baseline)
    result.findings = judge(Evidence(baseline=result.baseline, old=result.old, new=result.new,
                                     converged=result.new), SCENARIO.expect)
    rows = dict((p, s) for p, s, _ in check_rows(result))
    assert rows["pop3_uidls"] == "not checked: old does not answer POP3"
    assert rows["messages"] == rows["sieve"] == "held"


@pytest.mark.parametrize("text", ["[/bold]", "[red]x[/red]"])
def test_scenario_text_is_printed_as_text_not_markup(text):
    console = Console(record=True, width=200)
    step = STEP.model_copy(update={"step": text, "show_output": True, "output": text})
    render(rehearsal(steps=[step]), console)
    assert console.export_text().count(text) == 3  # the step's row, its output's title and its output


def test_an_upgrade_in_place_is_reported_as_one_host_before_and_after(tmp_path):
    """The road says "in place"; the source is not checked (no source is left beside the host);
    the checks compare the host after the upgrade with itself before it."""
    scenario = Scenario.model_validate({
        "name": "in-place", "description": "upgraded where it stands",
        "hosts": {"old": {"suite": "bookworm", "config": "own-config", "mail_store": "disk"}},
        "users": [{"address": USER}], "steps": [{"method": "dist_upgrade", "config": "own-config-2.4"}],
    })
    before, after = state(), state()
    inbox(after).messages.pop(1)
    result = Rehearsal(scenario=scenario, lab_id="mlinplace", baseline=before, new=after, steps=[])
    result.findings = judge(Evidence(baseline=before, old=None, new=after), scenario.expect)
    write_reports(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["road"] == "in place: old upgraded from bookworm to trixie"
    assert {c["property"]: c["status"] for c in report["checks"]}["source"] == \
        "not checked: in place: no source is left beside the host upgraded"
    assert [f["class"] for f in report["findings"]] == ["missing"]
    assert report["messages_per_user"][USER]["new"] == report["messages_per_user"][USER]["old"] - 1
    html = (tmp_path / "report.html").read_text()
    assert "in place: old upgraded from bookworm to trixie" in html
    assert "Checks (old before -&gt; old after the upgrade, in place, as clients see them)" in html
    console = Console(record=True, width=200)
    render(result, console)
    text = console.export_text()
    assert text.startswith("in place: old upgraded from bookworm to trixie\n")
    assert "Checks (old before -> old after the upgrade, in place, as clients see them)" in text
    assert f"{USER}: 5 messages before the upgrade, only 4 after it" in text
