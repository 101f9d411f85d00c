"""`maillab`: rehearse mail-server migrations in a throw-away lab.

Exit codes: 0 every expectation held, 1 an expectation failed, 2 bad input,
3 lab or infrastructure error.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # Ryuk cannot be pulled here

import click  # noqa: E402
import docker.errors  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from lab.baseimage import SUITES  # noqa: E402
from lab.errors import LabError  # noqa: E402

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_LAB = 0, 1, 2, 3
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"



@click.group(help="Rehearse mail-server migrations against real servers and prove what survived.")
def app() -> None:
    pass


console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per error, never wrapped


def fail(message: str, code: int) -> NoReturn:
    errors.print(f"[bold red]maillab:[/] {escape(message)}")
    raise SystemExit(code)


def say(message: str) -> None:
    """Progress: phase names (sent as bold markup) get a marker; anything else is plain text."""
    console.print(f"▶ {message}" if message.startswith("[bold]") else f"  {escape(message)}")


def _load(path: Path):
    from runner.scenario import ScenarioError, load_scenario  # noqa: PLC0415

    try:
        return load_scenario(path)
    except ScenarioError as error:
        fail(str(error), EXIT_BAD_INPUT)


SCENARIO = click.argument("scenario", type=click.Path(path_type=Path))


@app.command()
@SCENARIO
@click.option("--keep", is_flag=True, help="leave the lab running and print how to connect")
@click.option("--report-dir", type=click.Path(path_type=Path), help="where report.json and junit.xml go")
@click.option("--seed", type=int, help="override the scenario's seed")
def run(scenario: Path, keep: bool, report_dir: Path | None, seed: int | None) -> None:
    """Run a rehearsal: create, seed, baseline, converge, idempotence, side_effect, verify, destroy."""
    from runner.phases import Progress, rehearse  # noqa: PLC0415
    from runner.report import render, write_reports  # noqa: PLC0415

    spec = _load(scenario)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    directory = report_dir or Path("maillab-reports") / f"{spec.name}-{stamp}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"--report-dir {directory}: {error.strerror}", EXIT_BAD_INPUT)
    console.print(f"[bold]maillab[/] rehearsing [bold]{spec.name}[/]: {escape(spec.description)}")
    rehearsal = rehearse(spec, Progress(say), keep=keep)
    write_reports(rehearsal, directory)
    render(rehearsal, console)
    console.print(f"reports: {directory}/report.json, {directory}/junit.xml")
    if rehearsal.kept is not None:
        _print_connection(rehearsal)
    raise SystemExit(EXIT_PASS if rehearsal.passed else EXIT_FAIL)


def _print_connection(rehearsal) -> None:
    lab = rehearsal.kept
    console.print(f"[bold]lab {lab.id} kept running[/] (remove it with: maillab down --lab {lab.id})")
    for role, host in lab.hosts.items():
        console.print(f"  {role}: docker exec -it {lab.id}-{role} bash   "
                      f"IMAP 127.0.0.1:{host.port('imap')}  POP3 127.0.0.1:{host.port('pop3')}  "
                      f"SMTP 127.0.0.1:{host.port('smtp')}  ManageSieve 127.0.0.1:{host.port('sieve')}")
    for address, password in rehearsal.passwords.items():
        console.print(f"  user {address}  password {password}")


@app.command()
@SCENARIO
def validate(scenario: Path) -> None:
    """Check a scenario file against the schema."""
    spec = _load(scenario)
    console.print(f"{scenario}: valid ({len(spec.users)} users, {spec.message_count} messages, "
                  f"{len(spec.steps)} steps)")


@app.command("list")
def list_scenarios() -> None:
    """The scenarios shipped in scenarios/, each with its purpose."""
    for path in sorted(SCENARIOS.glob("*.yaml")):
        console.print(f"{path.relative_to(SCENARIOS.parent)}  {escape(_load(path).description)}")


@app.command()
@click.argument("suites", nargs=-1)
def build(suites: tuple[str, ...]) -> None:
    """Build the mail host images (a second run builds nothing)."""
    from lab.images import ensure_mailhost_image, mailhost_image  # noqa: PLC0415
    from lab.lab import docker_client  # noqa: PLC0415

    wanted = suites or list(SUITES)
    unknown = [s for s in wanted if s not in SUITES]
    if unknown:
        fail(f"unknown suite '{unknown[0]}' (known: {', '.join(SUITES)})", EXIT_BAD_INPUT)
    client = docker_client()
    for suite in wanted:
        built = ensure_mailhost_image(client, suite, say)
        console.print(f"{mailhost_image(suite)}: {'built' if built else 'up to date'}")


@app.command()
@click.option("--lab", help="only this lab id")
def down(lab: str | None) -> None:
    """Remove what labs left behind (containers and networks labelled maillab.lab)."""
    from lab.lab import docker_client, remove_labelled  # noqa: PLC0415

    containers, networks = remove_labelled(docker_client(), lab)
    console.print(f"removed {containers} containers and {networks} networks")


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through the phases, which destroy the lab


def main() -> None:
    # Python leaves SIGINT ignored when it starts ignored (a job started in the background by a
    # script); a rehearsal must still tear its lab down on Ctrl-C and on SIGTERM.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        # Without standalone mode click returns the exit code instead of raising it.
        sys.exit(app.main(prog_name="maillab", standalone_mode=False) or 0)
    except (click.exceptions.Abort, KeyboardInterrupt):
        errors.print("[bold red]maillab:[/] interrupted; the lab was removed")
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as error:
        console.print(error.format_message())
        sys.exit(EXIT_BAD_INPUT)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "maillab"
        errors.print(f"[bold red]maillab:[/] {escape(error.format_message())} (see {command} --help)")
        sys.exit(EXIT_BAD_INPUT)
    except LabError as error:
        errors.print(f"[bold red]maillab:[/] {escape(str(error))}")
        sys.exit(EXIT_LAB)
    except docker.errors.DockerException as error:
        errors.print(f"[bold red]maillab:[/] Docker: {escape(str(error))}")
        sys.exit(EXIT_LAB)
    except Exception as error:  # noqa: BLE001  never a traceback: one line, lab error code
        errors.print(f"[bold red]maillab:[/] {type(error).__name__}: {escape(str(error))}")
        sys.exit(EXIT_LAB)
