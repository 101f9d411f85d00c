"""maillab as a pytest plugin (entry point `pytest11`, name `maillab`): regression tests of your
own migration scripts, in your own repository.

    from maillab.runner.entry.pytest_plugin import assert_findings, assert_passed

    def test_my_script(rehearse):
        assert_passed(rehearse("scenarios/my-migration.yaml"))

`rehearse(path, *, seed=None)` runs the scenario in a lab of its own (a relative path is found
from the test file's directory), writes the reports into the test's tmp_path and returns a
`RehearsalResult`. The lab is gone when the call returns; with `--maillab-keep` the lab of a
failing test is kept and named (`maillab down --lab ID` removes it), a passing test's removed at
its teardown. A failing test's report gets a `maillab` section: the verdict line, the findings
and the report directory.

pytest loads the plugin in every run of any environment maillab is installed in, so it does
nothing until a test asks for `rehearse`, and Docker and the runner are imported only then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ...lab.lab import Lab
    from ..methods.context import StepResult
    from ..rehearsal.phases import Rehearsal
    from ..schema.findings import Finding

SHOWN_FINDINGS = 20  # a failing test's message lists this many findings; report.json has them all
PROPERTY = "maillab"  # the name of the user property (junit.xml) each rehearsal records


@dataclass(frozen=True)
class RehearsalResult:
    """What a rehearsal found, as a test looks at it. `rehearsal` holds everything else."""

    verdict: str  # pass, fail or error
    verdict_line: str  # the line `maillab run` ends with
    findings: tuple[Finding, ...]
    classes: frozenset[str]  # the classes of the findings the scenario does not tolerate
    steps: tuple[StepResult, ...]
    lab_id: str
    report_dir: Path
    reports: tuple[Path, ...]  # every file written into report_dir (report.json, junit.xml, snapshots)
    rehearsal: Rehearsal = field(repr=False)

    @classmethod
    def of(cls, rehearsal: Rehearsal, report_dir: Path) -> RehearsalResult:
        """The result of a finished rehearsal whose reports are in `report_dir`."""
        from ..reports.terminal import verdict_line  # noqa: PLC0415  (the runner, only when asked)

        return cls(verdict=rehearsal.verdict, verdict_line=verdict_line(rehearsal), findings=tuple(rehearsal.findings),
                   classes=frozenset(f.kind for f in rehearsal.findings if not f.tolerated),
                   steps=tuple(rehearsal.steps), lab_id=rehearsal.lab_id, report_dir=report_dir,
                   reports=tuple(sorted(path for path in report_dir.rglob("*") if path.is_file())),
                   rehearsal=rehearsal)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def summary(self) -> str:
        """The verdict line, the failed steps and the findings that are not tolerated (the
        first SHOWN_FINDINGS), and where the reports are."""
        lines = [self.verdict_line]
        for step in self.steps:
            if not (step.ok or step.resumed):
                lines.append(f"  step failed: {step.step}: exit {step.exit_shown}"
                             + (f": {step.first_error}" if step.first_error else ""))
        broken = [finding for finding in self.findings if not finding.tolerated]
        lines += [f"  {finding.one_line()}" for finding in broken[:SHOWN_FINDINGS]]
        if len(broken) > SHOWN_FINDINGS:
            lines.append(f"  … and {len(broken) - SHOWN_FINDINGS} more findings")
        lines.append(f"reports: {self.report_dir}")
        return "\n".join(lines)


def assert_passed(result: RehearsalResult) -> None:
    """The rehearsal passed: every step succeeded and every finding is tolerated."""
    __tracebackhide__ = True
    if not result.passed:
        raise AssertionError(f"the rehearsal did not pass:\n{result.summary()}")


def assert_findings(result: RehearsalResult, expected: Iterable[str]) -> None:
    """The rehearsal finished and found exactly the `expected` finding classes (tolerated
    findings aside); a name that is no finding class is an error in the test."""
    __tracebackhide__ = True
    from ..schema.findings import FINDING_CLASSES  # noqa: PLC0415  (pydantic, only when asked)

    expected = frozenset(expected)
    if unknown := sorted(expected - set(FINDING_CLASSES)):
        raise ValueError(f"not finding classes: {', '.join(unknown)} (see maillab.runner.schema.findings.FINDING_CLASSES)")
    if result.verdict == "error":
        raise AssertionError(f"the rehearsal did not finish:\n{result.summary()}")
    if result.classes != expected:
        differences = [f"{label}: {', '.join(sorted(names))}" for label, names in
                       (("not found", expected - result.classes), ("not expected", result.classes - expected)) if names]
        raise AssertionError(f"findings {_listed(result.classes)}, expected {_listed(expected)} "
                             f"({'; '.join(differences)}):\n{result.summary()}")


def _listed(classes: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(classes)) + "}" if classes else "none"


# -- the plugin ---------------------------------------------------------------------------------

@dataclass
class _Run:
    """One rehearsal of a test, and its lab while the test's outcome decides about it."""

    result: RehearsalResult
    kept: Lab | None


RUNS = pytest.StashKey[list[_Run]]()
PHASES = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("maillab").addoption(
        "--maillab-keep", action="store_true",
        help="keep the lab of a test that fails (maillab down --lab ID removes it); a passing test's is removed")


@pytest.fixture
def rehearse(request: pytest.FixtureRequest, tmp_path: Path):
    """rehearse(scenario_path, *, seed=None) -> RehearsalResult: run a scenario in a lab of its
    own. A relative path is found from the test file's directory."""
    from ...lab.errors import LabError  # noqa: PLC0415  (Docker is imported only when a test rehearses)
    from ..rehearsal.phases import rehearse as run_rehearsal  # noqa: PLC0415
    from ..reports.json_report import write_reports  # noqa: PLC0415
    from ..schema.loader import ScenarioError, load_scenario  # noqa: PLC0415

    keep = request.config.getoption("maillab_keep")
    runs = request.node.stash.setdefault(RUNS, [])

    def rehearse_scenario(scenario_path: str | Path, *, seed: int | None = None) -> RehearsalResult:
        __tracebackhide__ = True
        try:
            scenario = load_scenario(request.path.parent / scenario_path)
        except ScenarioError as error:
            raise pytest.fail.Exception(str(error), pytrace=False) from None  # the line, no traceback
        if seed is not None:
            scenario = scenario.model_copy(update={"seed": seed})
        try:
            rehearsal = run_rehearsal(scenario, keep=keep)
        except LabError as error:  # no lab could be made
            raise pytest.fail.Exception(f"maillab: {error}", pytrace=False) from None
        directory = tmp_path / (f"maillab-{scenario.name}" + (f"-{len(runs) + 1}" if runs else ""))
        write_reports(rehearsal, directory)
        result = RehearsalResult.of(rehearsal, directory)
        runs.append(_Run(result, rehearsal.kept))
        return result

    yield rehearse_scenario
    failed = _failed(request.node)
    for run in runs:
        if run.kept is not None and not failed:
            run.kept.destroy()
        fate = _fate(run.result.lab_id, kept=run.kept is not None and failed)
        request.node.user_properties.append((PROPERTY, f"{run.result.verdict_line} ({fate})"))


def _fate(lab_id: str, kept: bool) -> str:
    return f"lab {lab_id} kept: remove it with: maillab down --lab {lab_id}" if kept else f"lab {lab_id} removed"


def _failed(item: pytest.Item) -> bool:
    """Whether the test has failed so far (its setup or its call)."""
    return any(report.failed for report in item.stash.get(PHASES, {}).values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(PHASES, {})[report.when] = report
    runs = item.stash.get(RUNS, [])
    if report.when == "call" and report.failed and runs:
        kept = item.config.getoption("maillab_keep")  # the teardown keeps a failing test's labs
        report.sections.append((PROPERTY, "\n\n".join(
            f"{run.result.summary()}\n{_fate(run.result.lab_id, kept)}" for run in runs)))
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    """Each test's rehearsals: verdict and what became of the lab (a kept one's id to remove)."""
    lines = [f"{report.nodeid}: {value}" for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, "when", None) == "teardown"
             for name, value in getattr(report, "user_properties", ()) if name == PROPERTY]
    if lines:
        terminalreporter.write_sep("=", "maillab")
        for line in lines:
            terminalreporter.write_line(line)
