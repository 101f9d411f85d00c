"""The pytest plugin's parts that need no lab: the assertion helpers' messages on rehearsals
built by hand, and, in a repository made by pytester, a bad scenario file (the loader's line
fails the test, found from the test file's directory) and tests that do not rehearse (the
plugin leaves them as they were). The rehearsals themselves: tests/integration."""

import re

import pytest

from maillab.runner.entry.pytest_plugin import SHOWN_FINDINGS, RehearsalResult, assert_findings, assert_passed
from maillab.runner.methods.context import StepResult
from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.schema.findings import Finding
from maillab.runner.schema.scenario import Scenario

pytest_plugins = ["pytester"]
SECTIONS = re.compile(r"[-=] maillab [-=]")  # the plugin's section of a failing test, and its summary

SCENARIO = Scenario.model_validate({
    "name": "unit", "description": "a rehearsal", "hosts": {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}},
    "users": [{"address": "a@example.org"}], "steps": [{"method": "doveadm_backup"}],
})
MISSING = Finding(kind="missing", user="a@example.org", mailbox="INBOX", uid=3, detail="not on new")
TOLERATED = Finding(kind="guid_changed", user="a@example.org", mailbox="INBOX", uid=1, detail="new GUID",
                    tolerated=True)
FAILED_STEP = StepResult(step="your script scripts/m.sh (as root on new)", host="new", command="./m.sh", exit_code=4,
                         meaning="failed", ok=False, seconds=1.0, first_error="doveadm(a): Error: no such user")


def result(tmp_path, findings=(), **more) -> RehearsalResult:
    (tmp_path / "report.json").write_text("{}")
    return RehearsalResult.of(Rehearsal(scenario=SCENARIO, lab_id="mltest", findings=list(findings), **more), tmp_path)


def test_a_result_says_what_the_rehearsal_found(tmp_path):
    found = result(tmp_path, [MISSING, TOLERATED])
    assert (found.verdict, found.passed, found.classes, found.lab_id) == ("fail", False, {"missing"}, "mltest")
    assert found.reports == (tmp_path / "report.json",) and found.verdict_line == "FAIL: unit: findings: missing"


def test_assert_passed_passes_with_tolerated_findings_only(tmp_path):
    assert_passed(result(tmp_path, [TOLERATED]))


def test_assert_passed_fails_with_the_verdict_the_failed_step_and_the_findings(tmp_path):
    with pytest.raises(AssertionError) as failed:
        assert_passed(result(tmp_path, [MISSING, TOLERATED], steps=[FAILED_STEP]))
    assert str(failed.value).splitlines() == [
        "the rehearsal did not pass:",
        "FAIL: unit: step failed: your script scripts/m.sh (as root on new); findings: missing",
        "  step failed: your script scripts/m.sh (as root on new): exit 4: doveadm(a): Error: no such user",
        "  missing a@example.org INBOX UID 3: not on new",
        f"reports: {tmp_path}",
    ]


def test_a_long_list_of_findings_is_cut(tmp_path):
    many = [MISSING.model_copy(update={"uid": uid}) for uid in range(1, SHOWN_FINDINGS + 6)]
    lines = result(tmp_path, many).summary().splitlines()
    assert len(lines) == 1 + SHOWN_FINDINGS + 2 and lines[-2] == "  … and 5 more findings"


@pytest.mark.parametrize(("expected", "message"), [
    ({"missing"}, None),
    ({"missing", "duplicate"}, "findings {missing}, expected {duplicate, missing} (not found: duplicate):"),
    (set(), "findings {missing}, expected none (not expected: missing):"),
    ({"flags_changed"}, "findings {missing}, expected {flags_changed} (not found: flags_changed; not expected: missing):"),
])
def test_assert_findings_checks_exactly_the_classes_not_tolerated(tmp_path, expected, message):
    found = result(tmp_path, [MISSING, TOLERATED])
    if message is None:
        assert_findings(found, expected)
        return
    with pytest.raises(AssertionError) as failed:
        assert_findings(found, expected)
    assert str(failed.value).splitlines()[:2] == [message, "FAIL: unit: findings: missing"]


def test_assert_findings_fails_when_the_rehearsal_did_not_finish(tmp_path):
    with pytest.raises(AssertionError, match=r"^the rehearsal did not finish:\nERROR: unit: the engine went away"):
        assert_findings(result(tmp_path, error="the engine went away"), set())


def test_a_name_that_is_no_finding_class_is_an_error_in_the_test(tmp_path):
    with pytest.raises(ValueError, match="^not finding classes: lost_mail, mising "):
        assert_findings(result(tmp_path, [MISSING]), {"mising", "missing", "lost_mail"})


def test_a_bad_scenario_fails_the_test_with_the_loaders_line(pytester):
    pytester.makepyfile(**{"tests/sub/test_mine": """
        def test_my_script(rehearse):
            rehearse("bad.yaml")
    """})
    (pytester.path / "tests" / "sub" / "bad.yaml").write_text("name: bad\nhosts: [\n")
    run = pytester.runpytest_subprocess("tests")
    run.assert_outcomes(failed=1)
    bad = pytester.path / "tests" / "sub" / "bad.yaml"  # found from the test file's directory
    run.stdout.fnmatch_lines([f"{bad}:3: not valid YAML: *"])
    assert "Traceback" not in run.stdout.str() and "rehearse(" not in run.stdout.str()
    assert not SECTIONS.search(run.stdout.str())  # no rehearsal ran: no section, no summary


def test_tests_that_do_not_rehearse_are_left_as_they_were(pytester):
    pytester.makepyfile(test_other="""
        def test_passes():
            pass

        def test_fails():
            assert 1 + 1 == 3
    """)
    run = pytester.runpytest_subprocess("--maillab-keep", "-rA")
    run.assert_outcomes(passed=1, failed=1)
    run.stdout.fnmatch_lines(["E       assert (1 + 1) == 3"])  # the test's own asserts are still rewritten
    assert not SECTIONS.search(run.stdout.str())
