"""The pytest plugin as a user has it: a repository of their own (made by pytester) with a
scenario, their migration script and `def test_my_script(rehearse)`, run by pytest in a process
of its own. The right script passes; the classic mistake (ssh in `while read` without -n: only
the first user is migrated, every command exits 0) fails, naming its findings; no lab is left,
except with --maillab-keep the failing test's, named, which this test then removes by its id."""

from __future__ import annotations

import re
import shutil

import pytest

from maillab.lab.lab import find_labs, remove_lab

from .conftest import ROOT

pytest_plugins = ["pytester"]

SCENARIO = """\
name: my-migration
description: my script moves both users from bullseye to bookworm
seed: 11
hosts:
  old: {suite: bullseye}
  new: {suite: bookworm}
users:
  - address: amy@example.org
    folders:
      - {name: INBOX, count: 3}
  - address: ben@example.org
    folders:
      - {name: INBOX, count: 2}
steps:
  - method: script
    path: scripts/migrate.sh
    on: migrator
"""
TESTS = """\
from maillab.runner.entry.pytest_plugin import assert_findings, assert_passed


def test_my_script(rehearse):
    assert_passed(rehearse("scenarios/migration.yaml"))


def test_the_mistake_is_caught(rehearse):
    # what the wrong script does to the second user
    assert_findings(rehearse("scenarios/migration.yaml"), {"folder_missing", "subscription_lost", "uidl_changed"})
"""
RIGHT, WRONG = "migrate-over-ssh.sh", "migrate-over-ssh-subtly-wrong.sh"  # the shipped scripts
WRONG_FINDINGS = "findings: folder_missing, subscription_lost, uidl_changed"
# the plugin's summary line of a rehearsal: test, verdict, and what became of the lab
LAB_LINE = re.compile(r"^(?P<test>\S+::\S+): (?P<verdict>PASS|FAIL|ERROR): .* \(lab (?P<lab>ml[0-9a-f]+) "
                      r"(?P<fate>removed|kept: remove it with: maillab down --lab (?P=lab))\)$", re.M)


def user_repository(pytester: pytest.Pytester, script: str) -> None:
    """The user's repository: tests/test_migration.py, tests/scenarios/migration.yaml and
    tests/scenarios/scripts/migrate.sh (their script, here one of maillab's own)."""
    scenarios = pytester.mkdir("tests") / "scenarios"
    (scenarios / "scripts").mkdir(parents=True)
    (scenarios / "migration.yaml").write_text(SCENARIO)
    shutil.copy(ROOT / "scenarios" / "scripts" / script, scenarios / "scripts" / "migrate.sh")
    (pytester.path / "tests" / "test_migration.py").write_text(TESTS)


def run_user_tests(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, dict[str, str]]]:
    """Run the user's tests as they would; returns the run and its rehearsals by test name."""
    run = pytester.runpytest_subprocess("tests/test_migration.py", *args, timeout=600)
    labs = {match["test"].split("::")[-1]: match.groupdict() for match in LAB_LINE.finditer(run.stdout.str())}
    return run, labs


def test_the_right_script_passes(pytester, docker, images):
    user_repository(pytester, RIGHT)
    run, labs = run_user_tests(pytester, "-k", "test_my_script")
    run.assert_outcomes(passed=1, deselected=1)
    assert labs["test_my_script"]["verdict"] == "PASS" and labs["test_my_script"]["fate"] == "removed"
    assert labs["test_my_script"]["lab"] not in {lab.id for lab in find_labs(docker)}


def test_the_wrong_script_fails_naming_its_findings(pytester, docker, images):
    user_repository(pytester, WRONG)
    run, labs = run_user_tests(pytester)
    run.assert_outcomes(passed=1, failed=1)
    output = run.stdout.str()
    # the assertion, then the maillab section of the failing test: verdict, findings, reports, lab
    run.stdout.re_match_lines([r"E\s+AssertionError: the rehearsal did not pass:",
                               rf"E\s+FAIL: my-migration: {WRONG_FINDINGS}",
                               r"E\s+folder_missing ben@example.org INBOX: .*",
                               r"-+ maillab -+",
                               rf"FAIL: my-migration: {WRONG_FINDINGS}",
                               r"reports: .*/maillab-my-migration",
                               rf"lab {labs['test_my_script']['lab']} removed"])
    assert "Traceback" not in output and "pytest_plugin.py" not in output  # the helper's frames are hidden
    assert {test: lab["fate"] for test, lab in labs.items()} == {"test_my_script": "removed",
                                                                 "test_the_mistake_is_caught": "removed"}
    assert not {lab["lab"] for lab in labs.values()} & {lab.id for lab in find_labs(docker)}


def test_keep_keeps_the_lab_of_a_failing_test_only(pytester, docker, images):
    user_repository(pytester, WRONG)
    run, labs = run_user_tests(pytester, "--maillab-keep")
    kept = labs.get("test_my_script", {}).get("lab")
    try:
        run.assert_outcomes(passed=1, failed=1)
        assert labs["test_my_script"]["fate"].startswith("kept")
        run.stdout.fnmatch_lines([f"lab {kept} kept: remove it with: maillab down --lab {kept}"])  # in the section
        assert labs["test_the_mistake_is_caught"]["fate"] == "removed"  # passed: removed at its teardown
        running = {lab.id: lab for lab in find_labs(docker)}
        assert running[kept].kept and running[kept].containers >= 3  # old, new, the migrator
        assert labs["test_the_mistake_is_caught"]["lab"] not in running
    finally:
        if kept:
            remove_lab(docker, kept)
    assert kept not in {lab.id for lab in find_labs(docker)}
