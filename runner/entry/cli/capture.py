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
from ...schema.sources import SKIPPED
from . import EXIT_BAD_INPUT, EXIT_LAB, _count, app, console, errors, fail, log, verbosity

CAPTURE_HELP = """Write a scenario with the shape of a real IMAP server's mailboxes: folders
(hierarchy, subscriptions), message counts, flag and keyword shares, size and date ranges,
Sieve script names (if ManageSieve answers). Read-only: every folder is opened with EXAMINE
and messages are read with FETCH FLAGS INTERNALDATE RFC822.SIZE (and BODY.PEEK[] with
--with-content): nothing on the server changes, not even \\Seen or \\Recent. By default no
content and no address leaves the server: users become user1@example.org, ..., bodies are
generated, Sieve scripts are stand-ins that keep their names.

With --config: the server's Dovecot and Postfix configuration instead, as a config folder
(dovecot/, postfix/) for hosts.old.config, over ssh (doveconf -n, postconf -n, postconf -M and
the files they name, read over SFTP: nothing on the host is written) or, with --from-dir, from
a copied /etc tree. Secrets (passwords, doveadm_password, password hashes) become
@MAILLAB_SECRET@; private keys are not copied."""


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


def _ssh_target(host: str | None, ssh_port: int | None) -> tuple[str, int]:
    """HOST or HOST:PORT ([ADDRESS]:PORT for IPv6) and --ssh-port: where sshd listens."""
    if not host:
        raise click.UsageError("give HOST (or --from-dir DIR)")
    name, port = host, None
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") or None
    elif host.count(":") == 1:
        name, port = host.split(":")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise click.UsageError(f"HOST {host}: the port is not a number from 1 to 65535")
    if port and ssh_port and int(port) != ssh_port:
        raise click.UsageError(f"HOST {host} and --ssh-port {ssh_port} name two ports")
    return name, int(port) if port else ssh_port or 22


def _capture_config(host: str | None, from_dir: Path | None, out: Path, ssh: dict) -> None:
    from ..capture import CaptureError  # noqa: PLC0415
    from ..capture_config import DirSource, SshLogin, SshSource, capture_config, write_folder  # noqa: PLC0415

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise click.UsageError(f"--out {out}: give a new or empty directory for the config folder")
    if from_dir:
        if host:
            raise click.UsageError("give HOST or --from-dir, not both")
        source = DirSource(from_dir)
    else:
        name, port = _ssh_target(host, ssh["port"])
        known_hosts = ssh["known_hosts"] or Path("~/.ssh/known_hosts").expanduser()
        if not known_hosts.is_file():
            fail(f"--known-hosts {known_hosts}: no such file (unknown host keys are refused, never added)",
                 EXIT_BAD_INPUT)
        try:
            source = SshSource(SshLogin(name, port, ssh["user"], known_hosts, ssh["key"]))
        except CaptureError as error:
            fail(str(error), EXIT_LAB)
    try:
        captured = capture_config(source)
    except CaptureError as error:
        fail(str(error), EXIT_LAB)
    finally:
        if not from_dir:
            source.close()
    if not any(name.startswith("dovecot/") for name in captured.files):
        where = f"{from_dir} (neither {from_dir}/etc/dovecot nor {from_dir}/dovecot)" if from_dir else source.where
        fail(f"no Dovecot configuration found in {where}", EXIT_BAD_INPUT if from_dir else EXIT_LAB)
    try:
        write_folder(captured, out)
    except OSError as error:
        fail(f"--out {out}: {error.strerror}", EXIT_BAD_INPUT)
    for line in captured.notes:
        log.warning("%s", line)
    for line in captured.skipped:
        log.warning("skipped %s", line)
    files = [name for name in captured.files if "/" in name]
    console.print(Text(f"captured {_count(len(files), 'configuration file')} from {source.where} "
                       f"(read-only; secrets replaced by @MAILLAB_SECRET@), "
                       f"{_count(len(captured.skipped), 'file')} skipped" +
                       (f" (listed in {out / SKIPPED})" if captured.skipped else "")))
    console.print(Text(f"wrote {out}"))


@app.command(help=CAPTURE_HELP)
@click.argument("host", required=False)
@click.option("--port", type=click.IntRange(1, 65535), help="the IMAP port  [default: 993 with implicit TLS, else 143]")
@click.option("--tls", type=click.Choice(["implicit", "starttls", "none"]), default="implicit", show_default=True,
              help="TLS from the start, STARTTLS, or none (certificates are verified)")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="trust this CA (PEM) too when verifying the server's certificate")
@click.option("--user", "users", multiple=True, metavar="ADDRESS", help="the user to read (repeatable)")
@click.option("--users-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the users to read, one address per line")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the password (first line): the user's, or the master user's with --master-user")
@click.option("--master-user", metavar="NAME", help="log in as ADDRESS*NAME (Dovecot's master users)")
@click.option("--sieve-port", type=click.IntRange(1, 65535), default=4190, show_default=True,
              help="ManageSieve (STARTTLS unless --tls none); skipped if it does not answer")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="the scenario to write (with --config: a new directory, the config folder)")
@click.option("--keep-addresses", is_flag=True, help="keep the users' real addresses in the scenario")
@click.option("--with-content", "content_dir", type=click.Path(file_okay=False, path_type=Path),
              help="also export the messages (BODY.PEEK[]) into Maildirs under this new directory, one per user")
@click.option("--config", "config", is_flag=True,
              help="capture the Dovecot and Postfix configuration (over ssh) instead of the mailboxes")
@click.option("--from-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="--config from a copied /etc tree (DIR/etc/dovecot or DIR/dovecot) instead of a host")
@click.option("--ssh-user", default="root", show_default=True, help="--config: the ssh login")
@click.option("--ssh-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="--config: the private key  [default: the agent's and ~/.ssh's, as ssh offers them]")
@click.option("--known-hosts", type=click.Path(dir_okay=False, path_type=Path),
              help="--config: the host keys trusted (an unknown one is refused)  [default: ~/.ssh/known_hosts]")
@click.option("--ssh-port", type=click.IntRange(1, 65535), help="--config: sshd's port  [default: 22, or HOST:PORT]")
@verbosity
def capture(host: str, port: int | None, tls: str, ca_file: Path | None, users: tuple[str, ...],
            users_file: Path | None, password_file: Path, master_user: str | None, sieve_port: int, out: Path,
            keep_addresses: bool, content_dir: Path | None, config: bool, from_dir: Path | None, ssh_user: str,
            ssh_key: Path | None, known_hosts: Path | None, ssh_port: int | None) -> None:
    mailbox_options = [name for name, given in (("--user", users), ("--users-file", users_file),
                                                ("--password-file", password_file), ("--master-user", master_user),
                                                ("--with-content", content_dir), ("--keep-addresses", keep_addresses),
                                                ("--ca-file", ca_file), ("--port", port)) if given]
    if config or from_dir:
        if mailbox_options:
            raise click.UsageError(f"{', '.join(mailbox_options)}: for capturing mailboxes, not with --config")
        return _capture_config(host, from_dir, out, {"user": ssh_user, "key": ssh_key, "known_hosts": known_hosts,
                                                     "port": ssh_port})
    if not host or not password_file:
        raise click.UsageError("give HOST and --password-file (or --config)")
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
