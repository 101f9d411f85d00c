"""Exercises for trainees, one folder each under exercises/ (docs/training.md):

  exercise.yaml   the task in plain words, hints from gentle to explicit, where the solution
                  runs, what the wrong solution gets wrong and the finding classes it gives
  scenario.yaml   the starting state and setup steps, then one script step: solution.sh
  solution.sh     the reference solution; wrong.sh, a plausible wrong one

The schema is pure data, as runner/schema/scenario.py; reading goes through runner/schema/loader.py, so a
wrong file is one line naming file, line and field. Loading runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .findings import FindingClass
from .loader import ScenarioError, field_path, line_of, load_scenario, read_document, validated
from .scenario import Scenario
from .steps import Script
from .vocabulary import ArgText, HeaderText, Machine, shaped

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
SOLUTION, WRONG = "solution.sh", "wrong.sh"
_check_name = shaped(r"[a-z0-9]+(?:-[a-z0-9]+)*", "an exercise's folder name (lowercase-with-dashes)")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WrongSolution(Model):
    reason: HeaderText = Field(min_length=1)  # one line: the mistake wrong.sh makes
    classes: list[FindingClass] = Field(min_length=1)  # the finding classes it gives, no others

    @field_validator("classes")
    @classmethod
    def _once_each(cls, classes: list[str]) -> list[str]:
        if len(set(classes)) != len(classes):
            raise ValueError("a finding class is listed twice")
        return classes


class ExerciseSpec(Model):
    title: HeaderText = Field(min_length=1)
    task: ArgText = Field(min_length=1)  # what the trainee must do and why
    hints: list[ArgText] = Field(min_length=1)  # from gentle to explicit
    on: Machine  # where solution.sh runs, and where the trainee works
    wrong: WrongSolution
    seeds: HeaderText = Field(min_length=1)  # the seed document or guide step it is drawn from


@dataclass(frozen=True)
class Exercise:
    name: str
    folder: Path
    spec: ExerciseSpec
    scenario: Scenario  # its last step runs solution.sh

    @property
    def setup_steps(self) -> int:
        """How many steps make the lab as the trainee finds it: all before the solution."""
        return len(self.scenario.steps) - 1

    def with_solution(self, path: str) -> Scenario:
        """The scenario with the solution step running `path` (relative to the folder) instead."""
        *setup, solution = self.scenario.steps
        return self.scenario.model_copy(update={"steps": [*setup, solution.model_copy(update={"path": path})]})

    def solution_text(self) -> str:
        return (self.folder / SOLUTION).read_text()


def discover(root: Path = EXERCISES) -> list[Exercise]:
    """Every exercise under `root`, by name."""
    return [load_exercise(path.parent) for path in sorted(root.glob("*/exercise.yaml"))]


def find(name: str, root: Path = EXERCISES) -> Exercise:
    folder = root / name
    if not (folder / "exercise.yaml").is_file():
        known = ", ".join(path.parent.name for path in sorted(root.glob("*/exercise.yaml")))
        raise ScenarioError(f"no exercise {name} in {root} (known: {known or 'none'})")
    return load_exercise(folder)


def load_exercise(folder: Path) -> Exercise:
    """The exercise in `folder`, once its files fit together."""
    name = folder.resolve().name
    try:
        _check_name(name)
    except ValueError as error:
        raise ScenarioError(f"{folder}: {error}") from None
    path = folder / "exercise.yaml"
    document = read_document(path, "exercise", "an exercise is a mapping with title, task, hints, on, wrong, seeds")
    spec = validated(path, document, ExerciseSpec)
    scenario_path = folder / "scenario.yaml"
    scenario = load_scenario(scenario_path)
    written = read_document(scenario_path, "scenario", "")  # valid by now: read for the lines of the checks below

    def fail(loc: tuple, message: str) -> None:
        raise ScenarioError(f"{scenario_path}:{line_of(written, loc)}: {field_path(loc)}: {message}")

    solutions = [index for index, step in enumerate(scenario.steps)
                 if isinstance(step, Script) and step.path == SOLUTION]
    if len(solutions) != 1:
        fail(("steps",), f"an exercise's scenario runs {SOLUTION} in exactly one script step (found {len(solutions)})")
    [index] = solutions
    if index != len(scenario.steps) - 1:
        fail(("steps", index), f"the {SOLUTION} step comes last: `maillab exercise check` runs nothing after it")
    if scenario.steps[index].on != spec.on:
        raise ScenarioError(f"{path}:{line_of(document, ('on',))}: on: {spec.on}, but {scenario_path.name} runs "
                            f"{SOLUTION} on {scenario.steps[index].on}")
    if not (folder / WRONG).is_file():
        raise ScenarioError(f"{path}:{line_of(document, ('wrong',))}: wrong: {folder / WRONG} not found "
                            "(the wrong solution the exercise is about)")
    return Exercise(name=name, folder=folder.resolve(), spec=spec, scenario=scenario)
