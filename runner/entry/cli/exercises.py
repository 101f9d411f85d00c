"""`exercise`: list, start, check, hint, solution (exercises/, runner/schema/exercise.py)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from ...methods.doveadm_backup import DOVEADM_PORT
from ...schema.exercise import discover, find
from ...schema.loader import ScenarioError
from .. import kept
from . import EXIT_BAD_INPUT, LAB_OPTION, _count, _exit, _quiet, app, console, fail, verbosity
from .labs import _lab_flag, bring_up_and_record, check_and_report, kept_lab

@app.group()
def exercise() -> None:
    """Exercises for trainees: a lab as the trainee finds it, a task, hints, and a grade."""


def _exercise(name: str):
    try:
        return find(name)
    except ScenarioError as error:
        fail(str(error), EXIT_BAD_INPUT)


def _exercise_of(lab_id: str | None):
    """The kept lab's record and the exercise `exercise start` made it for."""
    record = kept_lab(lab_id)[0]
    if record.exercise is None:
        fail(f"the lab {record.lab_id} was made by maillab up, not by maillab exercise start", EXIT_BAD_INPUT)
    return record, _exercise(record.exercise)


def _shell_role(found) -> str:
    """The host whose `maillab shell` the trainee works in (a migrator's work starts on new)."""
    return "old" if found.spec.on == "old" else "new"


@exercise.command("list")
@verbosity
def list_exercises() -> None:
    """The exercises in exercises/: name, title, and where the trainee works."""
    try:
        exercises = discover()
    except ScenarioError as error:
        fail(str(error), EXIT_BAD_INPUT)
    for found in exercises:
        console.print(Text(f"{found.name}  {found.spec.title}  (on {found.spec.on})"))


@exercise.command()
@click.argument("name")
@verbosity
def start(name: str) -> None:
    """Bring up exercise NAME's lab as the trainee finds it (its setup steps run), keep it
    running, and print the task."""
    found = _exercise(name)
    if found.scenario.cutover:
        fail(f"{name}: a live cutover needs the runner sending mail throughout: rehearse it with "
             f"maillab run {found.folder / 'scenario.yaml'}", EXIT_BAD_INPUT)
    record = bring_up_and_record(found.scenario, found.folder / "scenario.yaml", exercise=name,
                                 setup_steps=found.setup_steps)
    flag = _lab_flag(record.lab_id)
    console.print(Text(f"exercise {name}: {found.spec.title}", style="bold"))
    console.print(Text(found.spec.task.rstrip()))
    console.print(Text(f"next: maillab shell {_shell_role(found)}{flag}   (work as root there)"))
    console.print(Text(f"      maillab exercise check{flag}   (judge and grade the lab; as often as you like)"))
    console.print(Text(f"      maillab exercise hint{flag}   (the next of {_count(len(found.spec.hints), 'hint')})"))
    console.print(Text(f"      maillab exercise solution{flag}   (the reference solution)"))
    console.print(Text(f"      maillab down --lab {record.lab_id}"))


@exercise.command("check")
@LAB_OPTION
@click.option("--report-dir", type=click.Path(path_type=Path), help="where report.json and junit.xml go")
@verbosity
def check_exercise(lab_id: str | None, report_dir: Path | None) -> None:
    """`maillab check` of the exercise's lab, then its grade: what held, what was lost, whether
    clients would download mail again, and a score out of 100."""
    from ...reports.grade import grade  # noqa: PLC0415  (Docker, when the command runs)

    record = _exercise_of(lab_id)[0]
    rehearsal = check_and_report(record.lab_id, report_dir)[1]
    if rehearsal.error is None:
        lines = grade(rehearsal).lines()
        for line in lines[:1] if _quiet() else lines:
            console.print(Text(line))
    _exit(rehearsal, rehearsal.passed, keep=True)


@exercise.command()
@LAB_OPTION
@verbosity
def hint(lab_id: str | None) -> None:
    """The exercise's next hint, from gentle to explicit: each call shows one more."""
    record, found = _exercise_of(lab_id)
    hints = found.spec.hints
    shown = min(record.hints_shown + 1, len(hints))
    console.print(Text(f"hint {shown} of {len(hints)}: {hints[shown - 1]}"))
    if shown == len(hints):
        console.print(Text(f"no more hints; the reference solution: maillab exercise solution{_lab_flag(record.lab_id)}"))
    kept.update(record.model_copy(update={"hints_shown": shown}))


@exercise.command()
@LAB_OPTION
@verbosity
def solution(lab_id: str | None) -> None:
    """The exercise's reference solution (its solution.sh, printed as it is) and the mistake
    the exercise is about."""
    from ...methods.ssh_root_key import KEY  # noqa: PLC0415  (asyncssh, when the command runs)

    found = _exercise_of(lab_id)[1]
    console.print(Text(found.solution_text().rstrip("\n")))
    console.print(Text(f"# It runs as root on {found.spec.on}, with the MAILLAB_* variables that `maillab shell "
                       f"{_shell_role(found)}` sets (MAILLAB_OLD_HOST=old, MAILLAB_NEW_HOST=new, "
                       f"MAILLAB_DOVEADM_PORT={DOVEADM_PORT}, MAILLAB_SSH_KEY={KEY}, MAILLAB_USERS_FILE)."))
    console.print(Text(f"# The mistake this exercise is about: {found.spec.wrong.reason}"))
