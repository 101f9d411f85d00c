"""`maillab`: rehearse mail-server migrations in a throw-away lab.

Exit codes: 0 every expectation held, 1 an expectation failed (a finding: the migration's
fault), 2 bad input (one line naming file, line and field), 3 the lab's own error, 128+N a
signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), the lab removed in every case.
Progress goes to stderr through logging; tables and the verdict go to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from maillab.runner import signals

if __name__ == "__main__" or Path(sys.argv[0]).name == "maillab":  # the program, not an import
    signals.hold_until_installed()  # a signal during the imports below waits for main()

import datetime as dt  # noqa: E402
import functools  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from typing import NoReturn, get_args  # noqa: E402

import click  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402

from maillab.lab.engine import engine_address  # noqa: E402
from maillab.lab.errors import LabError, engine_gone, engine_gone_error  # noqa: E402
from maillab.runner.faults import SweepFault  # noqa: E402
from maillab.runner.loader import ScenarioError, load_scenario  # noqa: E402
from maillab.runner.vocabulary import SUITES  # noqa: E402

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_LAB = 0, 1, 2, 3
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
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


@app.command()
@SCENARIO
@click.option("--keep", is_flag=True, help="leave the lab running and print how to connect")
@click.option("--report-dir", type=click.Path(path_type=Path), help="where report.json and junit.xml go")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="override the scenario's seed")
@click.option("--interrupt-sweep", "points", type=click.IntRange(1, 100), metavar="N",
              help="measure the migration, then interrupt it at N points spread over it, resume and verify each")
@click.option("--fault", type=click.Choice(get_args(SweepFault)), default="kill", show_default=True,
              help="what interrupts the migration in --interrupt-sweep")
@verbosity
def run(scenario: Path, keep: bool, report_dir: Path | None, seed: int | None, points: int | None,
        fault: str) -> None:
    """Run a rehearsal: create, seed, baseline, converge, idempotence, side_effect, verify, destroy."""
    from maillab.runner.phases import rehearse  # noqa: PLC0415  (Docker is needed from here on)
    from maillab.runner.report import render, render_verdict, write_reports  # noqa: PLC0415

    spec = _load(scenario)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    if points is not None:
        if keep or spec.cutover:
            raise click.UsageError("--interrupt-sweep takes no --keep and no scenario with a live cutover")
        _interrupt_sweep(spec, points, fault, report_dir)
    if click.get_current_context().get_parameter_source("fault").name != "DEFAULT":
        raise click.UsageError("--fault goes with --interrupt-sweep")
    directory = _report_directory(spec.name, report_dir)
    log.info("rehearsing %s: %s", spec.name, spec.description)
    rehearsal = rehearse(spec, keep=keep)
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
    raise SystemExit(EXIT_LAB if rehearsal.error else EXIT_PASS if passed else EXIT_FAIL)


def _interrupt_sweep(spec, points: int, fault: str, report_dir: Path | None) -> NoReturn:
    from maillab.runner.report import render_sweep, write_sweep  # noqa: PLC0415
    from maillab.runner.sweep import sweep  # noqa: PLC0415

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
    from maillab.lab.lab import docker_client, find_labs  # noqa: PLC0415

    stale = [lab for lab in find_labs(docker_client()) if lab.stale]
    if stale:
        log.warning("labs left by runners that are gone: %s (remove them with: maillab down)",
                    ", ".join(f"{lab.id} ({lab.containers} containers, started {lab.started})" for lab in stale))


# -- a lab to work in: up, status, shell, check ---------------------------------------------
def _lab_id(_context, _option, value: str | None) -> str | None:
    from maillab.lab.lab import is_lab_id  # noqa: PLC0415

    if value is not None and not is_lab_id(value):
        fail(f"--lab {value}: not a lab id (ml or compose- and 8 hex digits, as `maillab status` lists them)",
             EXIT_BAD_INPUT)
    return value


LAB_OPTION = click.option("--lab", "lab_id", metavar="ID", callback=_lab_id,
                          help="the kept lab (needed when several are running)")


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
    from maillab.runner import kept  # noqa: PLC0415
    from maillab.runner.phases import bring_up  # noqa: PLC0415

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
    from maillab.runner import kept  # noqa: PLC0415

    return f" --lab {lab_id}" if len(kept.records()) > 1 else ""


def kept_lab(lab_id: str | None):
    """The kept lab named (or the only one), with its Lab bound to the running containers."""
    from maillab.lab.lab import Lab, docker_client, find_labs  # noqa: PLC0415
    from maillab.lab.containers import HostSecrets  # noqa: PLC0415
    from maillab.runner import kept  # noqa: PLC0415

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
    from maillab.runner import kept  # noqa: PLC0415
    from maillab.runner.phases import check_kept  # noqa: PLC0415
    from maillab.runner.report import render, render_verdict, write_reports  # noqa: PLC0415
    from maillab.runner.state import Arrival  # noqa: PLC0415

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
    import shutil  # noqa: PLC0415

    from maillab.runner.migrate.script import script_environment  # noqa: PLC0415
    from maillab.runner.migrate.ssh_root_key import KEPT_USERS_FILE, KEY  # noqa: PLC0415

    record, _, lab = kept_lab(lab_id)
    docker = shutil.which("docker")
    if docker is None:
        fail("maillab shell needs the docker command (Debian package docker.io or docker-ce-cli)", EXIT_LAB)
    interactive = ["-i", "-t"] if sys.stdin.isatty() else ["-i"]
    # the variables a script step gets: `maillab exercise solution`'s script runs here as it is
    env = [f"--env={name}={value}" for name, value in script_environment(lab, KEPT_USERS_FILE, KEY).items()]
    os.execv(docker, [docker, "exec", *interactive, *env, f"{record.lab_id}-{role}", *(command or ("bash",))])


@app.command()
@verbosity
def status() -> None:
    """The labs on this Docker engine: id, scenario, age, how they are kept, and ports."""
    from maillab.lab.lab import docker_client, find_labs, published_ports  # noqa: PLC0415

    client = docker_client()
    labs = find_labs(client)
    if not labs:
        console.print("no labs")
    for lab in labs:
        how = "kept" if lab.kept else "stale" if lab.stale else f"runner {lab.runner}"
        console.print(Text(f"{lab.id}  {lab.scenario}  up {lab.age}  {how}"))
        for role, ports in published_ports(client, lab.id).items():
            console.print(Text(f"  {role}: " + "  ".join(f"{service} {address}" for service, address in ports.items())))


@app.command()
@SCENARIO
@verbosity
def validate(scenario: Path) -> None:
    """Check a scenario file against the schema (needs no Docker engine)."""
    from maillab.runner.loader import files_outside  # noqa: PLC0415
    from maillab.runner.sources import source_messages  # noqa: PLC0415

    spec = _load(scenario)
    from_files = sum(len(source_messages(f.source)) for user in spec.users for f in user.folders if f.source)
    files = f" ({from_files} from mail files)" if from_files else ""
    console.print(Text(f"{scenario}: valid ({len(spec.users)} users, {spec.message_count + from_files} messages{files}, "
                       f"{len(spec.steps)} steps)"))
    for path in files_outside(spec):
        console.print(Text(f"reads files outside the scenario's folder: {path}"))


CAPTURE_HELP = """Write a scenario with the shape of a real IMAP server's mailboxes: folders
(hierarchy, subscriptions), message counts, flag and keyword shares, size and date ranges,
Sieve script names (if ManageSieve answers). Read-only: every folder is opened with EXAMINE
and messages are read with FETCH FLAGS INTERNALDATE RFC822.SIZE (and BODY.PEEK[] with
--with-content): nothing on the server changes, not even \\Seen or \\Recent. By default no
content and no address leaves the server: users become user1@example.org, ..., bodies are
generated, Sieve scripts are stand-ins that keep their names."""


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def _secret_line(path: Path, what: str) -> str:
    try:
        text = path.read_text().split("\n", 1)[0].rstrip("\r")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{what} {path}: {getattr(error, 'strerror', None) or error}", EXIT_BAD_INPUT)
    if not text:
        fail(f"{what} {path}: the first line is empty", EXIT_BAD_INPUT)
    return text


def _capture_users(users: tuple[str, ...], users_file: Path | None, master: str | None) -> list[str]:
    if bool(users) == bool(users_file):
        raise click.UsageError("give --user or --users-file")
    if users_file:
        try:
            users = tuple(line.strip() for line in users_file.read_text().splitlines() if line.strip())
        except (OSError, UnicodeDecodeError) as error:
            fail(f"--users-file {users_file}: {getattr(error, 'strerror', None) or error}", EXIT_BAD_INPUT)
        if not users:
            fail(f"--users-file {users_file}: no address in it", EXIT_BAD_INPUT)
    if len(users) > 1 and not master:
        raise click.UsageError("several users are read with one password: give --master-user")
    if len(set(users)) != len(users):
        raise click.UsageError("a user is named twice")
    return list(users)


@app.command(help=CAPTURE_HELP)
@click.argument("host")
@click.option("--port", type=click.IntRange(1, 65535), help="the IMAP port  [default: 993 with implicit TLS, else 143]")
@click.option("--tls", type=click.Choice(["implicit", "starttls", "none"]), default="implicit", show_default=True,
              help="TLS from the start, STARTTLS, or none (certificates are verified)")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="trust this CA (PEM) too when verifying the server's certificate")
@click.option("--user", "users", multiple=True, metavar="ADDRESS", help="the user to read (repeatable)")
@click.option("--users-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the users to read, one address per line")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="the password (first line): the user's, or the master user's with --master-user")
@click.option("--master-user", metavar="NAME", help="log in as ADDRESS*NAME (Dovecot's master users)")
@click.option("--sieve-port", type=click.IntRange(1, 65535), default=4190, show_default=True,
              help="ManageSieve (STARTTLS unless --tls none); skipped if it does not answer")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="the scenario to write")
@click.option("--keep-addresses", is_flag=True, help="keep the users' real addresses in the scenario")
@click.option("--with-content", "content_dir", type=click.Path(file_okay=False, path_type=Path),
              help="also export the messages (BODY.PEEK[]) into Maildirs under this new directory, one per user")
@verbosity
def capture(host: str, port: int | None, tls: str, ca_file: Path | None, users: tuple[str, ...],
            users_file: Path | None, password_file: Path, master_user: str | None, sieve_port: int, out: Path,
            keep_addresses: bool, content_dir: Path | None) -> None:
    from ruamel.yaml import YAML  # noqa: PLC0415

    from maillab.runner.capture import (  # noqa: PLC0415
        CONTENT_ITEMS, DEFAULT_PORTS, SHAPE_ITEMS, CaptureError, MaildirWriter, Server, capture_user,
    )
    from maillab.runner.shape import generated_address, scenario_document  # noqa: PLC0415

    addresses = _capture_users(users, users_file, master_user)
    if ca_file and tls == "none":
        raise click.UsageError("--ca-file goes with --tls implicit or starttls")
    if content_dir and content_dir.exists() and any(content_dir.iterdir()):
        raise click.UsageError(f"--with-content {content_dir}: give a new or empty directory")
    password = _secret_line(password_file, "--password-file")
    server = Server(host, port or DEFAULT_PORTS[tls], tls, ca_file, sieve_port)
    writer = MaildirWriter(content_dir.resolve()) if content_dir else None
    read = f"EXAMINE and FETCH {' '.join(CONTENT_ITEMS if writer else SHAPE_ITEMS)}, read-only"
    log.debug("capturing %d users from %s:%d (%s)", len(addresses), host, server.port, read)
    shapes, notes = {}, []
    for index, user in enumerate(addresses, start=1):
        address = user if keep_addresses else generated_address(index)
        if writer:
            writer.user(address)
        try:
            shapes[address], user_notes = capture_user(server, user, master_user, password, writer)
        except CaptureError as error:
            fail(str(error), EXIT_LAB)
        notes += [f"{address}: {note}" for note in user_notes]
    where = f" from {host}:{server.port}" if keep_addresses else ""
    # the exported trees, relative to the scenario as the loader reads them
    maildirs = {address: os.path.relpath(writer.root / address, out.resolve().parent) for address in shapes} \
        if writer else None
    document = scenario_document(shapes, read=f"{dt.date.today()}{where}, {read}", notes=notes, maildirs=maildirs)
    yaml = YAML()
    yaml.width = 4096  # comments and descriptions on one line each
    try:
        with out.open("w") as file:
            yaml.dump(document, file)
    except OSError as error:
        fail(f"--out {out}: {error.strerror}", EXIT_BAD_INPUT)
    for note in notes:
        log.warning("%s", note)
    folders = sum(len(shape.folders) for shape in shapes.values())
    messages = sum(folder.count for shape in shapes.values() for folder in shape.folders)
    scripts = sum(len(shape.sieve_scripts or ()) for shape in shapes.values())
    console.print(Text(f"captured {_count(len(shapes), 'user')}, {_count(folders, 'folder')}, "
                       f"{_count(messages, 'message')}, {_count(scripts, 'Sieve script name')} "
                       f"({read}: nothing on the server was changed)"))
    console.print(Text(f"wrote {out}" + (f"; their mail as Maildirs in {content_dir}" if writer else
                                         " (shape only: no content" + (")" if keep_addresses else ", no addresses)"))))
    try:
        load_scenario(out)
    except ScenarioError as error:  # the server holds what the lab cannot rehearse yet: say where
        errors.print(Text("maillab: ", style="bold red") + Text(f"the lab cannot rehearse it as written: {error}"))


@app.command("list")
@verbosity
def list_scenarios() -> None:
    """The scenarios shipped in scenarios/, each with its purpose."""
    for path in sorted(SCENARIOS.glob("*.yaml")):
        console.print(Text(f"{path.relative_to(SCENARIOS.parent)}  {_load(path).description}"))


@app.command()
@click.argument("suites", nargs=-1, type=click.Choice(SUITES))
@verbosity
def build(suites: tuple[str, ...]) -> None:
    """Build the mail host images, and without SUITES also the live cutover's internet (a
    second run builds nothing)."""
    from maillab.lab.images import ensure_images  # noqa: PLC0415
    from maillab.lab.lab import docker_client  # noqa: PLC0415

    for image, built in ensure_images(docker_client(), suites or SUITES, internet=not suites).items():
        console.print(f"{image}: {'built' if built else 'up to date'}")


@app.command()
@click.option("--lab", "lab_id", callback=_lab_id, help="remove this lab, whoever runs it")
@click.option("--all", "everything", is_flag=True, help="remove every lab, running or not")
@click.option("--stale", is_flag=True, help="remove the labs whose runner is gone (the default)")
@verbosity
def down(lab_id: str | None, everything: bool, stale: bool) -> None:
    """Remove labs (containers and networks labelled maillab.lab): by default only those whose
    runner is gone; a running rehearsal's lab stays unless named or --all is given."""
    from maillab.lab.lab import choose_labs, docker_client, find_labs, remove_lab  # noqa: PLC0415
    from maillab.runner import kept  # noqa: PLC0415

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
    from maillab.runner.compose_env import COMPOSE_FILE, DEFAULT_SCENARIO, ComposeEnvError  # noqa: PLC0415
    from maillab.runner.compose_env import summary, write_compose_env  # noqa: PLC0415

    try:
        written = write_compose_env(out or COMPOSE_FILE.parent / ".env", _load(DEFAULT_SCENARIO), force)
    except ComposeEnvError as error:
        fail(str(error), EXIT_BAD_INPUT)
    for line in summary(written):
        console.print(Text(line))


# -- exercises: list, start, check, hint, solution (exercises/, runner/exercise.py) --------
@app.group()
def exercise() -> None:
    """Exercises for trainees: a lab as the trainee finds it, a task, hints, and a grade."""


def _exercise(name: str):
    from maillab.runner.exercise import find  # noqa: PLC0415

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
    from maillab.runner.exercise import discover  # noqa: PLC0415

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
    from maillab.runner.grade import grade  # noqa: PLC0415

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
    from maillab.runner import kept  # noqa: PLC0415

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
    from maillab.runner.migrate.doveadm_backup import DOVEADM_PORT  # noqa: PLC0415
    from maillab.runner.migrate.ssh_root_key import KEY  # noqa: PLC0415

    found = _exercise_of(lab_id)[1]
    console.print(Text(found.solution_text().rstrip("\n")))
    console.print(Text(f"# It runs as root on {found.spec.on}, with the MAILLAB_* variables that `maillab shell "
                       f"{_shell_role(found)}` sets (MAILLAB_OLD_HOST=old, MAILLAB_NEW_HOST=new, "
                       f"MAILLAB_DOVEADM_PORT={DOVEADM_PORT}, MAILLAB_SSH_KEY={KEY}, MAILLAB_USERS_FILE)."))
    console.print(Text(f"# The mistake this exercise is about: {found.spec.wrong.reason}"))


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


if __name__ == "__main__":
    main()
