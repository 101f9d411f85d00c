"""Every exercise in exercises/ (issue 11): its reference solution's rehearsal passes, and the
same scenario with wrong.sh in the solution step's place fails with exactly the finding
classes its exercise.yaml names. The table is the folder: a new exercise is a new case.
Each rehearsal runs in a lab of its own. Then the trainee's commands on one exercise."""

from __future__ import annotations

import json
import os
import re

import pytest

from maillab.runner.rehearsal.phases import rehearse
from maillab.runner.reports.terminal import verdict_line
from maillab.runner.schema.exercise import EXERCISES, load_exercise

from .conftest import lab_objects, maillab

pytestmark = pytest.mark.integration

NAMES = sorted(path.parent.name for path in EXERCISES.glob("*/exercise.yaml"))
CASES = [(name, solution) for name in NAMES for solution in ("solution.sh", "wrong.sh")]


@pytest.mark.parametrize(("name", "solution"), CASES, ids=[f"{name}-{solution}" for name, solution in CASES])
def test_the_reference_passes_and_the_wrong_solution_fails_for_its_reason(images, name, solution):
    exercise = load_exercise(EXERCISES / name)
    rehearsal = rehearse(exercise.with_solution(solution))
    assert rehearsal.error is None, rehearsal.error
    broken = {finding.kind for finding in rehearsal.findings if not finding.tolerated}
    if solution == "solution.sh":
        failed = [f"{step.command} (exit {step.exit_shown}): {step.output[-1500:]}" for step in rehearsal.steps
                  if not step.ok]
        assert rehearsal.passed, "\n".join([verdict_line(rehearsal), *failed])
        assert broken == set()
    else:
        assert not rehearsal.passed, f"{name}: wrong.sh passed ({exercise.spec.wrong.reason})"
        assert broken == set(exercise.spec.wrong.classes), verdict_line(rehearsal)


def test_exercise_list_shows_every_exercise():
    listed = maillab("exercise", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    names = [line.split("  ")[0] for line in listed.stdout.splitlines()]
    assert names == NAMES
    assert len(NAMES) >= 8, f"issue 11 asks for at least eight exercises; exercises/ has {len(NAMES)}"


def test_start_hint_check_by_hand_check_down(images, docker, tmp_path):
    """pull-not-push as a trainee does it: the lab as they find it fails with the mail missing
    and grades 0; after the printed solution is pasted into `maillab shell new`, it passes with 100."""
    env = dict(os.environ, MAILLAB_STATE_DIR=str(tmp_path / "state"))
    start = maillab("exercise", "start", "pull-not-push", env=env)
    found = re.search(r"lab (ml[0-9a-f]+) kept running", start.stdout)
    try:
        assert start.returncode == 0, start.stdout[-3000:] + start.stderr
        assert "exercise pull-not-push: Pull, don't push" in start.stdout
        assert "maillab exercise hint" in start.stdout

        hints = [maillab("exercise", "hint", env=env).stdout for _ in range(5)]
        assert [hint.split(":")[0] for hint in hints] == ["hint 1 of 4", "hint 2 of 4", "hint 3 of 4", "hint 4 of 4",
                                                         "hint 4 of 4"]
        assert "doveadm backup -R -A tcp:old:12345" in hints[3] and "no more hints" in hints[3]
        solution = maillab("exercise", "solution", env=env)
        assert solution.stdout.startswith((EXERCISES / "pull-not-push" / "solution.sh").read_text()), solution.stdout

        before = maillab("exercise", "check", "--report-dir", str(tmp_path / "before"), env=env)
        assert before.returncode == 1, before.stdout[-3000:] + before.stderr
        assert "grade: 0/100 (not yet)" in before.stdout and "messages on new: 0 of old's 50" in before.stdout

        # the printed solution as it is: the shell has the MAILLAB_* variables a script step gets
        by_hand = maillab("shell", "new", input=solution.stdout + "echo exit=$?\n", env=env)
        assert "exit=0" in by_hand.stdout, by_hand.stdout + by_hand.stderr

        after = maillab("exercise", "check", "--report-dir", str(tmp_path / "after"), env=env)
        assert after.returncode == 0, after.stdout[-3000:] + after.stderr
        assert "grade: 100/100 (passed)" in after.stdout and "clients re-download: no" in after.stdout
        assert json.loads((tmp_path / "after" / "report.json").read_text())["verdict"] == "pass"
    finally:
        if found:
            down = maillab("down", "--lab", found.group(1), env=env)
            assert down.returncode == 0, down.stdout + down.stderr
    assert found and lab_objects(docker, found.group(1)) == []
