"""A lab to work in and the labs on the engine: `up`, `status`, `shell`, `check`, `down`,
`compose-env`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from rich.text import Text

from ....lab import signals
from ...methods.context import ADDRESSES_FILE, PASSWORDS_FILE, Arrival
from .. import kept
from . import (
    EXIT_BAD_INPUT, EXIT_LAB, LAB_OPTION, SCENARIO, _exit, _load, _name_stale_labs, _print_connection, _quiet,
    _report_directory, app, console, errors, fail, lab_id_option, log, verbosity,
)

# Docker and asyncssh are imported inside the commands that use them: every command module
# loads with any maillab command, and validate must not load Docker.
@app.command()
@SCENARIO
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="override the scenario's seed")
@verbosity
def up(scenario: Path, seed: int | None) -> None:
    """Create and seed the scenario's lab and keep it running (no migration): print its hosts,
    ports, users and passwords, and the next commands."""
    spec = _load(scenario)
    if spec.cutover:
        raise click.UsageError("a live cutover needs the runner sending mail throughout: rehearse it with maillab run")
    record = bring_up_and_record(spec.model_copy(update={"seed": seed}) if seed is not None else spec, scenario)
    console.print(Text("next: maillab shell new   (migrate by hand; root on old and new may ssh to the other host)"))
    console.print(Text(f"      maillab check{_lab_flag(record.lab_id)}   (judge the lab as maillab run does)"))
    console.print(Text(f"      maillab down --lab {record.lab_id}"))


def bring_up_and_record(spec, path: Path, exercise: str | None = None, setup_steps: int = 0):
    """`maillab up`'s work (also `exercise start`'s): the kept lab, recorded for the commands
    that come later, and how to reach it printed. Exits as `run` does when it cannot be made."""
    from ...rehearsal.phases import bring_up  # noqa: PLC0415

    _name_stale_labs()
    log.info("bringing up %s: %s", spec.name, spec.description)
    rehearsal = bring_up(spec, setup_steps)
    signals.settle()
    if rehearsal.kept is None:
        _exit(rehearsal, False) if rehearsal.interrupted else fail(rehearsal.error or "no lab", EXIT_LAB)
    lab = rehearsal.kept
    record = kept.KeptLab(lab_id=lab.id, scenario=path.resolve(), seed=spec.seed, exercise=exercise,
                          passwords=rehearsal.passwords, doveadm=lab.doveadm_password,
                          hosts={role: kept.KeptHost(db=host.secrets.db, probe=host.secrets.probe)
                                 for role, host in lab.hosts.items()},
                          arrivals=[(a.user, a.message_id) for a in rehearsal.arrivals], steps=rehearsal.steps)
    kept.save(record, rehearsal.baseline)
    _print_connection(rehearsal)
    return record


def _lab_flag(lab_id: str) -> str:
    """` --lab ID` when other kept labs run beside this one, so the printed commands work."""
    return f" --lab {lab_id}" if len(kept.records()) > 1 else ""


def kept_lab(lab_id: str | None):
    """The kept lab named (or the only one), with its Lab bound to the running containers."""
    from ....lab.containers import HostSecrets  # noqa: PLC0415
    from ....lab.lab import Lab, docker_client, find_labs  # noqa: PLC0415

    try:
        record = kept.choose(lab_id, {lab.id for lab in find_labs(docker_client())})
    except kept.NoKeptLab as error:
        fail(str(error), EXIT_BAD_INPUT)
    spec = _load(record.scenario).model_copy(update={"seed": record.seed})
    secrets = {role: HostSecrets(doveadm=record.doveadm, db=host.db, probe=host.probe) for role, host in record.hosts.items()}
    return record, spec, Lab.attach(record.lab_id, dict(spec.hosts), record.doveadm, secrets)


@app.command()
@LAB_OPTION
@click.option("--report-dir", type=click.Path(path_type=Path), help="where report.json and junit.xml go")
@verbosity
def check(lab_id: str | None, report_dir: Path | None) -> None:
    """Snapshot a kept lab and judge it against its scenario's expectations, as `run` does
    (same reports and exit codes); the lab keeps running."""
    rehearsal = check_and_report(lab_id, report_dir)[1]
    _exit(rehearsal, rehearsal.passed, keep=True)


def check_and_report(lab_id: str | None, report_dir: Path | None):
    """`maillab check`'s work (also `exercise check`'s): the record and the judged rehearsal,
    reports written and shown."""
    from ...rehearsal.phases import check_kept  # noqa: PLC0415
    from ...reports.json_report import write_reports  # noqa: PLC0415
    from ...reports.terminal import render, render_verdict  # noqa: PLC0415

    record, spec, lab = kept_lab(lab_id)
    directory = _report_directory(f"{spec.name}-check", report_dir)
    log.info("checking the lab %s against %s", lab.id, spec.name)
    rehearsal = check_kept(spec, lab, kept.load_baseline(record), record.passwords, record.steps,
                           [Arrival(*arrival) for arrival in record.arrivals])
    signals.settle()
    write_reports(rehearsal, directory)
    (render_verdict if _quiet() else render)(rehearsal, console)
    if not _quiet():
        console.print(Text(f"reports: {directory}/report.html, {directory}/report.json, {directory}/junit.xml"))
    if rehearsal.error and rehearsal.interrupted is None:
        errors.print(Text("maillab: ", style="bold red") + Text(rehearsal.error))
    return record, rehearsal


@app.command(context_settings={"ignore_unknown_options": True})
@click.argument("role", type=click.Choice(["old", "new"]))
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@LAB_OPTION
@verbosity
def shell(role: str, command: tuple[str, ...], lab_id: str | None) -> None:
    """A root shell on a kept lab's host (`docker exec`), or COMMAND run there:
    maillab shell new -- doveadm user '*'"""
    from ...methods.script import script_environment  # noqa: PLC0415
    from ...methods.ssh_root_key import KEY  # noqa: PLC0415

    record, _, lab = kept_lab(lab_id)
    docker = shutil.which("docker")
    if docker is None:
        fail("maillab shell needs the docker command (Debian package docker.io or docker-ce-cli)", EXIT_LAB)
    interactive = ["-i", "-t"] if sys.stdin.isatty() else ["-i"]
    # the variables a script step gets: `maillab exercise solution`'s script runs here as it is
    env = [f"--env={name}={value}" for name, value in script_environment(lab, ADDRESSES_FILE, PASSWORDS_FILE, KEY).items()]
    os.execv(docker, [docker, "exec", *interactive, *env, f"{record.lab_id}-{role}", *(command or ("bash",))])


@app.command()
@verbosity
def status() -> None:
    """The labs on this Docker engine: id, scenario, age, how they are kept, and ports."""
    from ....lab.lab import docker_client, find_labs, published_ports  # noqa: PLC0415

    client = docker_client()
    labs = find_labs(client)
    if not labs:
        console.print("no labs")
    for lab in labs:
        how = "kept" if lab.kept else "on standby" if lab.standby else "stale" if lab.stale else f"runner {lab.runner}"
        console.print(Text(f"{lab.id}  {lab.scenario}  up {lab.age}  {how}"))
        for role, ports in published_ports(client, lab.id).items():
            console.print(Text(f"  {role}: " + "  ".join(f"{service} {address}" for service, address in ports.items())))


@app.command()
@click.option("--lab", "lab_id", callback=lab_id_option, help="remove this lab, whoever runs it")
@click.option("--all", "everything", is_flag=True, help="remove every lab, running or not")
@click.option("--stale", is_flag=True, help="remove the labs whose runner is gone, and those on standby (the default)")
@verbosity
def down(lab_id: str | None, everything: bool, stale: bool) -> None:
    """Remove labs (containers and networks labelled maillab.lab): by default only those whose
    runner is gone and those on standby; a running rehearsal's lab stays unless named or --all is given."""
    from ....lab.lab import choose_labs, docker_client, find_labs, remove_lab  # noqa: PLC0415

    if sum(map(bool, (lab_id, everything, stale))) > 1:
        raise click.UsageError("give one of --lab, --all, --stale")
    client = docker_client()
    labs = find_labs(client, warn_foreign=True)
    chosen = choose_labs(labs, lab_id, everything)
    if lab_id and not chosen:
        fail(f"no lab {lab_id} on this Docker engine", EXIT_BAD_INPUT)
    containers = networks = 0
    for lab in chosen:
        removed = remove_lab(client, lab.id)
        kept.forget(lab.id)
        containers, networks = containers + removed[0], networks + removed[1]
    console.print(f"removed {containers} containers and {networks} networks")
    for lab in labs:
        if lab not in chosen:
            why = ("kept on purpose" if lab.kept else f"runner {lab.runner} is running" if lab.runner != "-"
                   else "made without a maillab runner: docker-compose, or an older maillab")
            console.print(Text(f"left lab {lab.id} ({why}; remove it with: maillab down --lab {lab.id})"))


@app.command("compose-env")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="the env file to write  [default: .env beside compose.yaml, which docker-compose reads]")
@click.option("--force", is_flag=True, help="replace an existing env file and its seed bundle")
@verbosity
def compose_env(out: Path | None, force: bool) -> None:
    """Write the env file compose.yaml's training servers start with (and beside it the seed
    bundle old loads): the default scenario's users and mail on old, new empty. No Docker needed."""
    # the docker module (not the engine), through the lab's constants: when the command runs
    from ..compose_env import COMPOSE_FILE, DEFAULT_SCENARIO, ComposeEnvError  # noqa: PLC0415
    from ..compose_env import summary, write_compose_env  # noqa: PLC0415

    try:
        written = write_compose_env(out or COMPOSE_FILE.parent / ".env", _load(DEFAULT_SCENARIO), force)
    except ComposeEnvError as error:
        fail(str(error), EXIT_BAD_INPUT)
    for line in summary(written):
        console.print(Text(line))
