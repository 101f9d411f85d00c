"""`capture`: a scenario with the shape of a real IMAP server's mailboxes (the reading is in
runner/entry/capture.py)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click
from rich.text import Text
from ruamel.yaml import YAML

from ...schema.loader import ScenarioError, load_scenario
from ...schema.shape import generated_address, scenario_document
from . import EXIT_BAD_INPUT, EXIT_LAB, _count, app, console, errors, fail, log, verbosity

CAPTURE_HELP = """Write a scenario with the shape of a real IMAP server's mailboxes: folders
(hierarchy, subscriptions), message counts, flag and keyword shares, size and date ranges,
Sieve script names (if ManageSieve answers). Read-only: every folder is opened with EXAMINE
and messages are read with FETCH FLAGS INTERNALDATE RFC822.SIZE (and BODY.PEEK[] with
--with-content): nothing on the server changes, not even \\Seen or \\Recent. By default no
content and no address leaves the server: users become user1@example.org, ..., bodies are
generated, Sieve scripts are stand-ins that keep their names."""


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
    # Docker, when the command runs (the reading shares the snapshot's code, which loads it)
    from ..capture import (  # noqa: PLC0415
        CONTENT_ITEMS, DEFAULT_PORTS, SHAPE_ITEMS, CaptureError, MaildirWriter, Server, capture_user,
    )

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
