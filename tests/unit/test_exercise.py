"""Exercise folders: every shipped one loads, and a folder whose files do not fit together is
one line naming file, line and field. No Docker."""

import re
import shutil
from pathlib import Path

import pytest

from maillab.runner.schema.exercise import EXERCISES, discover, find, load_exercise
from maillab.runner.schema.loader import ScenarioError
from maillab.runner.schema.steps import Script

SHIPPED = sorted(path.parent.name for path in EXERCISES.glob("*/exercise.yaml"))


def test_every_shipped_exercise_loads_with_its_solution_last():
    exercises = discover()
    assert [exercise.name for exercise in exercises] == SHIPPED
    for exercise in exercises:
        solution = exercise.scenario.steps[-1]
        assert isinstance(solution, Script) and solution.path == "solution.sh" and solution.on == exercise.spec.on
        assert exercise.setup_steps == len(exercise.scenario.steps) - 1
        assert exercise.solution_text().startswith("#!")


def test_the_wrong_solution_replaces_only_the_solution_step():
    exercise = discover()[0]
    wrong = exercise.with_solution("wrong.sh")
    assert wrong.steps[:-1] == exercise.scenario.steps[:-1]
    assert wrong.steps[-1].path == "wrong.sh" and exercise.scenario.steps[-1].path == "solution.sh"
    assert wrong.base_dir == exercise.folder  # wrong.sh is found beside solution.sh


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(ScenarioError, match=r"no exercise nope in .* \(known: .*pull-not-push"):
        find("nope")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


BAD = {
    "an unknown finding class": (lambda f: edit(f / "exercise.yaml", "classes: [", "classes: [lost_mail, "),
                                 r"exercise\.yaml:\d+: wrong\.classes\[0\]: Input should be"),
    "a class listed twice": (lambda f: edit(f / "exercise.yaml", "classes: [", "classes: [missing, missing, "),
                             r"exercise\.yaml:\d+: wrong\.classes: a finding class is listed twice"),
    "no hints": (lambda f: (f / "exercise.yaml").write_text(re.sub(r"hints:\n(  - .*\n)+", "hints: []\n",
                                                                   (f / "exercise.yaml").read_text())),
                 r"exercise\.yaml:\d+: hints: List should have at least 1 item"),
    "a field missing": (lambda f: edit(f / "exercise.yaml", "on: new\n", ""),
                        r"exercise\.yaml:1: on: Field required"),
    "no wrong.sh": (lambda f: (f / "wrong.sh").unlink(), r"exercise\.yaml:\d+: wrong: .*wrong\.sh not found"),
    "no solution.sh": (lambda f: (f / "solution.sh").unlink(), r"scenario\.yaml:\d+: steps\[1\]: script 'solution\.sh' not found"),
    "the solution in two steps": (lambda f: edit(f / "scenario.yaml", "  - method: copy_userdb",
                                                 "  - method: script\n    path: solution.sh\n  - method: copy_userdb"),
                                  r"scenario\.yaml:\d+: steps: .* exactly one script step \(found 2\)"),
    "a step after the solution": (lambda f: edit(f / "scenario.yaml", "expect:", "  - method: copy_userdb\nexpect:"),
                                  r"scenario\.yaml:\d+: steps\[1\]: the solution\.sh step comes last"),
    "the solution elsewhere than `on`": (lambda f: edit(f / "scenario.yaml", "    on: new", "    on: old"),
                                         r"exercise\.yaml:\d+: on: new, but scenario\.yaml runs solution\.sh on old"),
    "not a mapping": (lambda f: (f / "exercise.yaml").write_text("- title\n"),
                      r"exercise\.yaml:1: an exercise is a mapping"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_folder_that_does_not_fit_is_one_line_naming_file_and_line(case, tmp_path):
    folder = tmp_path / "pull-not-push"
    shutil.copytree(EXERCISES / "pull-not-push", folder)
    change, expected = BAD[case]
    change(folder)
    with pytest.raises(ScenarioError) as refused:
        load_exercise(folder)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(str(folder)), message
    assert re.search(expected, message), message


def test_a_folder_name_is_lowercase_with_dashes(tmp_path):
    shutil.copytree(EXERCISES / "pull-not-push", tmp_path / "Pull_Not_Push")
    with pytest.raises(ScenarioError, match=r"Pull_Not_Push: 'Pull_Not_Push' is not an exercise's folder name"):
        load_exercise(tmp_path / "Pull_Not_Push")
