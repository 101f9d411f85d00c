"""Rehearse a scenario: `run` (and its interrupt sweep), `validate`, `list`."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn, get_args

import click
from rich.text import Text

from ....lab import signals
from ...schema.faults import SweepFault
from ...schema.loader import files_outside
from ...schema.sources import source_messages
from . import (
    EXIT_BAD_INPUT, SCENARIO, SCENARIOS, _exit, fail, _load, _print_connection, _quiet, _report_directory, app, console, errors, log,
    verbosity,
)

@app.command()
@SCENARIO
@click.option("--keep", is_flag=True, help="leave the lab running and print how to connect")
@click.option("--report-dir", type=click.Path(path_type=Path), help="where report.json and junit.xml go")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="override the scenario's seed")
@click.option("--no-cache", is_flag=True, help="seed old afresh: neither read nor write the seed cache")
@click.option("--standby", is_flag=True,
              help="leave a lab started for the next run of this scenario (maillab down removes it)")
@click.option("--interrupt-sweep", "points", type=click.IntRange(1, 100), metavar="N",
              help="measure the migration, then interrupt it at N points spread over it, resume and verify each")
@click.option("--fault", type=click.Choice(get_args(SweepFault)), default="kill", show_default=True,
              help="what interrupts the migration in --interrupt-sweep")
@verbosity
def run(scenario: Path, keep: bool, report_dir: Path | None, seed: int | None, no_cache: bool, standby: bool,
        points: int | None, fault: str) -> None:
    """Run a rehearsal: create, seed, baseline, converge, idempotence, side_effect, verify, destroy."""
    # imported when the command runs: every command module loads with any maillab command,
    # and validate or list must not load Docker
    from ...rehearsal.phases import rehearse  # noqa: PLC0415
    from ...reports.json_report import write_reports  # noqa: PLC0415
    from ...reports.terminal import render, render_verdict  # noqa: PLC0415

    spec = _load(scenario)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    if points is not None:
        if keep or standby or spec.cutover:
            raise click.UsageError("--interrupt-sweep takes no --keep, no --standby and no scenario with a live cutover")
        _interrupt_sweep(spec, points, fault, report_dir)
    if click.get_current_context().get_parameter_source("fault").name != "DEFAULT":
        raise click.UsageError("--fault goes with --interrupt-sweep")
    if keep and standby:
        raise click.UsageError("--standby leaves a lab for the next run: this one's is kept (--keep)")
    directory = _report_directory(spec.name, report_dir)
    log.info("rehearsing %s: %s", spec.name, spec.description)
    rehearsal = rehearse(spec, keep=keep, cache=not no_cache, standby=standby)
    signals.settle()  # the lab is gone (or kept): what it found is written whatever arrives now
    write_reports(rehearsal, directory)
    (render_verdict if _quiet() else render)(rehearsal, console)
    if not _quiet():
        console.print(Text(f"reports: {directory}/report.html, {directory}/report.json, {directory}/junit.xml"))
    if rehearsal.kept is not None:
        _print_connection(rehearsal)
    if rehearsal.error and rehearsal.interrupted is None:
        errors.print(Text("maillab: ", style="bold red") + Text(rehearsal.error))
    _exit(rehearsal, rehearsal.passed, keep)


def _interrupt_sweep(spec, points: int, fault: str, report_dir: Path | None) -> NoReturn:
    # Docker, when the command runs (as in run)
    from ...rehearsal.sweep import sweep  # noqa: PLC0415
    from ...reports.json_report import write_sweep  # noqa: PLC0415
    from ...reports.terminal import render_sweep  # noqa: PLC0415

    directory = _report_directory(f"{spec.name}-sweep", report_dir)
    log.info("interrupt sweep of %s: %d points, %s", spec.name, points, fault)
    result = sweep(spec, points, fault)
    write_sweep(result, directory)
    render_sweep(result, console)
    if not _quiet():
        console.print(Text(f"reports: {directory}/sweep.json, {directory}/point-N/report.html, "
                           f"{directory}/point-N/report.json"))
    if result.lab.error and result.lab.interrupted is None:
        errors.print(Text("maillab: ", style="bold red") + Text(result.lab.error))
    _exit(result.lab, result.passed)


@app.command()
@SCENARIO
@verbosity
def validate(scenario: Path) -> None:
    """Check a scenario file against the schema, and hosts' own configurations with their suite's
    doveconf and postconf (needs a Docker engine only for those)."""
    spec = _load(scenario)
    from_files = sum(len(source_messages(f.source)) for user in spec.users for f in user.folders if f.source)
    files = f" ({from_files} from mail files)" if from_files else ""
    console.print(Text(f"{scenario}: valid ({len(spec.users)} users, {spec.message_count + from_files} messages{files}, "
                       f"{len(spec.steps)} steps)"))
    for path in files_outside(spec):
        console.print(Text(f"reads files outside the scenario's folder: {path}"))
    _check_own_config(spec)


def _check_own_config(spec) -> None:
    """Each host's own configuration, as its suite's doveconf and postconf read it (in a
    throw-away machine): old's refusal is bad input, new's a warning (run reports it as the
    migration's config_failed). Without a Docker engine this check is skipped with a warning."""
    hosts = {role: host for role, host in spec.hosts.items() if host.config}
    # an upgrade in place's configuration, as the next suite's Dovecot and Postfix read it
    upgraded = {f"steps[{index}]": spec.hosts[step.host].model_copy(update={"suite": step.target(spec),
                                                                           "config": step.config})
                for index, step in enumerate(spec.steps) if getattr(step, "method", "") == "dist_upgrade" and step.config}
    if not hosts and not upgraded:
        return
    from ....lab.errors import LabError  # noqa: PLC0415  (Docker, only for an own configuration)
    from ....lab.lab import check_own_config, docker_client  # noqa: PLC0415

    try:
        docker_client()
    except LabError as error:
        console.print(Text(f"warning: hosts' own configurations not checked with doveconf and postconf ({error})",
                           style="yellow"))
        return
    for role, host in [*sorted(hosts.items(), key=lambda item: item[0] != "old"), *upgraded.items()]:
        refused = check_own_config(host, role.replace("[", "-").rstrip("]"))
        if refused and role == "old":
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            fail(f"hosts.old.config: {refused[0].one_line(host.config)}{more}: the lab cannot stand in for the "
                 "admin's old server", EXIT_BAD_INPUT)
        for problem in refused:
            console.print(Text(f"warning: {_field(role)}: {problem.one_line(host.config)}: run reports "
                               "config_failed", style="yellow"))
        if not refused:
            console.print(Text(f"{_field(role)}: {host.config}: Dovecot and Postfix of {host.suite} take it"))


def _field(role: str) -> str:
    """The scenario field of a configuration checked: a host's, or a step's (steps[N])."""
    return f"{role}.config" if role.startswith("steps[") else f"hosts.{role}.config"


@app.command("list")
@verbosity
def list_scenarios() -> None:
    """The scenarios shipped in scenarios/, each with its purpose."""
    for path in sorted(SCENARIOS.glob("*.yaml")):
        console.print(Text(f"{path.relative_to(SCENARIOS.parent)}  {_load(path).description}"))
