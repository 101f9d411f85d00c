"""`maillab`: rehearse mail-server migrations in a throw-away lab.

Exit codes: 0 every expectation held, 1 an expectation failed (a finding: the migration's
fault), 2 bad input (one line naming file, line and field), 3 the lab's own error, 128+N a
signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), the lab removed in every case.
Progress goes to stderr through logging; tables and the verdict go to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ....lab import signals

# the program, not an import: the console script, or `python -m` (argv[0] is "-m" while it loads)
if Path(sys.argv[0]).name == "maillab" or sys.argv[0] == "-m":
    signals.hold_until_installed()  # a signal during the imports below waits for main()

import datetime as dt  # noqa: E402
import functools  # noqa: E402
import logging  # noqa: E402
from typing import NoReturn  # noqa: E402

import click  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402

from ....lab.engine import engine_address  # noqa: E402
from ....lab.errors import LabError, engine_gone, engine_gone_error  # noqa: E402
from ....lab.lab_id import is_lab_id  # noqa: E402
from ...schema.loader import ScenarioError, load_scenario  # noqa: E402

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_LAB = 0, 1, 2, 3
SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
log = logging.getLogger("maillab")
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per error, never wrapped


def fail(message: str, code: int) -> NoReturn:
    errors.print(Text("maillab: ", style="bold red") + Text(message))
    raise SystemExit(code)


class _LineHandler(logging.Handler):
    """A log record as one line on stderr, never wrapped (RichHandler's table wraps a long
    message at the console's width: a list of stale labs, a command line)."""

    def emit(self, record: logging.LogRecord) -> None:
        errors.print(Text(self.format(record)))


def configure_logging(level: int) -> None:
    handler = _LineHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s" if level == logging.DEBUG else "%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def verbosity(command):
    """-q (only the verdict) and --debug (every command run in the lab, and tracebacks), taken
    before the command's name (for all of maillab) or after it."""
    @functools.wraps(command)
    def configured(*args, debug: bool, quiet: bool, **kwargs):
        if debug or quiet or not log.handlers:
            configure_logging(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
        return command(*args, **kwargs)
    configured = click.option("--debug", is_flag=True, help="show every command run in the lab, and tracebacks")(configured)
    return click.option("-q", "--quiet", is_flag=True, help="print only the verdict")(configured)


def _quiet() -> bool:
    return log.level == logging.WARNING


@click.group(help="Rehearse mail-server migrations against real servers and prove what survived.")
@click.version_option(package_name="maillab", prog_name="maillab")
@verbosity
def app() -> None:
    pass


def _load(path: Path):
    try:
        return load_scenario(path)
    except ScenarioError as error:
        fail(str(error), EXIT_BAD_INPUT)


SCENARIO = click.argument("scenario", type=click.Path(path_type=Path))


def lab_id_option(_context, _option, value: str | None) -> str | None:
    """--lab takes only an id of the shape the lab makes (a label is anybody's text)."""
    if value is not None and not is_lab_id(value):
        fail(f"--lab {value}: not a lab id (ml or compose- and 8 hex digits, as `maillab status` lists them)",
             EXIT_BAD_INPUT)
    return value


LAB_OPTION = click.option("--lab", "lab_id", metavar="ID", callback=lab_id_option,
                          help="the kept lab (needed when several are running)")


def _report_directory(name: str, given: Path | None) -> Path:
    """The report directory (made now: a wrong one is bad input), after naming stale labs."""
    directory = given or Path("maillab-reports") / f"{name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"--report-dir {directory}: {error.strerror}", EXIT_BAD_INPUT)
    _name_stale_labs()
    return directory


def _exit(rehearsal, passed: bool, keep: bool = False) -> NoReturn:
    """The exit code of a run: a signal's, 3 for the lab's own error, 0 or 1 by the verdict."""
    if rehearsal.interrupted is not None:
        removed = rehearsal.error == f"interrupted by {rehearsal.interrupted}"  # else: why it may be left
        errors.print(Text("maillab: ", style="bold red") + Text(
            f"interrupted; the lab {rehearsal.lab_id} was kept" if keep
            else "interrupted; the lab was removed" if removed else rehearsal.error))
        raise SystemExit(rehearsal.interrupted.exit_code)
    if rehearsal.error:
        raise SystemExit(EXIT_BAD_INPUT if rehearsal.bad_input else EXIT_LAB)
    raise SystemExit(EXIT_PASS if passed else EXIT_FAIL)


def _print_connection(rehearsal) -> None:
    lab = rehearsal.kept
    console.print(Text(f"lab {lab.id} kept running (remove it with: maillab down --lab {lab.id})", style="bold"))
    at = engine_address()
    for role, host in lab.hosts.items():
        console.print(Text(f"  {role}: docker exec -it {lab.id}-{role} bash   IMAP {at}:{host.port('imap')}  "
                           f"POP3 {at}:{host.port('pop3')}  SMTP {at}:{host.port('smtp')}  "
                           f"ManageSieve {at}:{host.port('sieve')}"))
    for address, password in rehearsal.passwords.items():
        console.print(Text(f"  user {address}  password {password}"))


def _name_stale_labs() -> None:
    from ....lab.lab import docker_client, find_labs  # noqa: PLC0415  (Docker, when a command needs the engine)

    stale = [lab for lab in find_labs(docker_client()) if lab.stale]
    if stale:
        log.warning("labs left by runners that are gone: %s (remove them with: maillab down)",
                    ", ".join(f"{lab.id} ({lab.containers} containers, started {lab.started})" for lab in stale))


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def main() -> None:
    try:
        _main()
    finally:
        signals.settle()


def _main() -> None:
    try:
        signals.install()
        # Without standalone mode click returns the exit code instead of raising it.
        sys.exit(app.main(prog_name="maillab", standalone_mode=False) or 0)
    except (signals.Interrupted, click.exceptions.Abort) as stop:
        # click turns a KeyboardInterrupt (and so a signal) inside a command into Abort
        interruption = stop if isinstance(stop, signals.Interrupted) else stop.__cause__
        if not isinstance(interruption, signals.Interrupted):
            sys.exit(130)
        errors.print(Text(f"maillab: interrupted by {interruption}", style="bold red"))
        sys.exit(interruption.exit_code)
    except click.exceptions.NoArgsIsHelpError as error:
        console.print(error.format_message())
        sys.exit(EXIT_BAD_INPUT)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "maillab"
        fail(f"{error.format_message()} (see {command} --help)", EXIT_BAD_INPUT)
    except LabError as error:
        log.debug("lab error", exc_info=True)
        fail(" ".join(str(error).split()), EXIT_LAB)
    except Exception as error:  # noqa: BLE001  never a traceback (but with --debug): one line, lab error code
        log.debug("unexpected error", exc_info=True)
        if engine_gone(error):
            fail(str(engine_gone_error(error)), EXIT_LAB)
        fail(f"{type(error).__name__}: {' '.join(str(error).split())}", EXIT_LAB)


# Each module registers its commands on `app`; imported last, as they use what is defined above.
from . import cache, capture, exercises, images, labs, rehearse  # noqa: E402, F401
