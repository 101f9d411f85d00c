"""`maillab capture --config`: an admin's Dovecot and Postfix configuration as a config folder
(`dovecot/`, `postfix/`, as `hosts.<role>.config` takes it), its secrets replaced
(runner/entry/config_files.py).

Two sources, one walk. Over ssh (asyncssh; the admin's key and known_hosts, an unknown host
key refused) it runs `doveconf -n`, `postconf -n` and `postconf -M` and reads files over SFTP:
nothing is written on the host. `--from-dir` reads a copied /etc tree instead. Either way the
walk starts at dovecot.conf, main.cf and master.cf and follows what they name; a file is copied
only when, its symbolic links resolved, it lies under /etc/dovecot or /etc/postfix (of the copy,
with --from-dir), is a regular file and at most MAX_FILE_BYTES; anything else is noted as
skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import glob as globbing
import os
import posixpath
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ...lab.command import Command
from ..schema.sources import DOVECONF_N, POSTCONF_M, POSTCONF_N, SKIPPED, IrregularFile, read_regular
from .capture import CaptureError, _private_dir, _private_file, _said
from .config_files import (
    DOVECOT_DIR, POSTFIX_DIR, Kind, Reference, dovecot_references, doveconf_config_path, holds_private_key,
    postfix_references, redact,
)

MAX_FILE_BYTES = 1024 * 1024  # a configuration file, a map's source: more is no configuration
MAX_FILES = 1000
NETWORK_TIMEOUT = 60  # seconds: the ssh connection, each command
COMMANDS = {DOVECONF_N: Command.of("doveconf", "-n"), POSTCONF_N: Command.of("postconf", "-n"),
            POSTCONF_M: Command.of("postconf", "-M")}
# the reference files' own kinds
REFERENCE_KINDS: dict[str, Kind] = {DOVECONF_N: "dovecot", POSTCONF_N: "main.cf", POSTCONF_M: "master.cf"}
ROOTS = {DOVECOT_DIR: "dovecot", POSTFIX_DIR: "postfix"}


class Unreadable(Exception):
    """A file the capture does not copy: why (one phrase)."""


class DirSource:
    """A copied /etc tree: DIR/etc/dovecot (a copy of /) or DIR/dovecot (a copy of /etc)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.etc = self.root / "etc" if any((self.root / "etc" / sub).is_dir() for sub in ("dovecot", "postfix")) \
            else self.root
        self.where = str(root)

    def local(self, path: str) -> Path:
        return self.etc / posixpath.relpath(path, "/etc")

    def run(self, command: Command) -> str | None:
        return None  # no doveconf or postconf here: the walk follows the includes itself

    def glob(self, pattern: str) -> list[str]:
        local = self.local(pattern)
        return sorted("/etc/" + os.path.relpath(found, self.etc) for found in globbing.glob(str(local)))

    def read(self, path: str) -> tuple[str, bytes]:
        """The file's resolved host path and bytes (Unreadable: why not)."""
        local = self.local(path)
        if not os.path.lexists(local):
            raise Unreadable("not found")
        real = Path(os.path.realpath(local))
        if not real.is_relative_to(self.etc):
            raise Unreadable(f"a symbolic link out of {self.where}")
        info = os.lstat(real)
        _check(stat.S_ISREG(info.st_mode), info.st_size)
        try:
            return "/etc/" + str(real.relative_to(self.etc)), read_regular(real, follow=False)
        except (IrregularFile, OSError) as error:
            raise Unreadable(getattr(error, "strerror", None) or str(error)) from None


def _check(regular: bool, size: int) -> None:
    if not regular:
        raise Unreadable("not a regular file")
    if size > MAX_FILE_BYTES:
        raise Unreadable(f"{size} bytes, more than {MAX_FILE_BYTES}")


@dataclass(frozen=True)
class SshLogin:
    host: str
    port: int
    user: str
    known_hosts: Path
    key: Path | None = None  # None: the agent's and ~/.ssh's keys, as ssh would offer them


class SshSource:
    """A live host over ssh: the commands' output, and files over SFTP (read-only: stat,
    realpath, glob and files opened for reading)."""

    def __init__(self, login: SshLogin) -> None:
        import asyncssh  # noqa: PLC0415  (only when a host is read)

        self.asyncssh = asyncssh
        self.login = login
        self.where = f"{login.host}:{login.port}"
        self.loop = asyncio.new_event_loop()
        self.connection = self._sync(self._connect())
        try:
            self.sftp = self._sync(self.connection.start_sftp_client())
        except asyncssh.Error as error:
            self.connection.close()
            raise CaptureError(f"{self.where}: no SFTP: {_said(error)}") from None

    def _sync(self, coroutine):
        """Run one step of the session, within the network timeout."""
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coroutine, NETWORK_TIMEOUT + 5))
        except asyncio.TimeoutError:
            raise CaptureError(f"{self.where}: no answer over ssh in {NETWORK_TIMEOUT} s") from None

    async def _connect(self):
        asyncssh, login = self.asyncssh, self.login
        options = {"client_keys": [str(login.key)]} if login.key else {}
        try:
            return await asyncssh.connect(login.host, login.port, username=login.user,
                                          known_hosts=str(login.known_hosts), connect_timeout=NETWORK_TIMEOUT,
                                          **options)
        except asyncssh.HostKeyNotVerifiable as error:
            raise CaptureError(f"{self.where}: the host key is not trusted by {login.known_hosts}: "
                               f"{_said(error)}") from None
        except asyncssh.PermissionDenied as error:
            raise CaptureError(f"{login.host} refused the ssh login of {login.user}: {_said(error)}") from None
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as error:
            raise CaptureError(f"cannot reach {self.where} over ssh: {_said(error)}") from None

    def close(self) -> None:
        self.sftp.exit()
        self.connection.close()
        self._sync(self.connection.wait_closed())
        self.loop.close()

    def run(self, command: Command) -> str | None:
        """The command's output; None (with a note by the caller) when it fails."""
        try:
            result = self._sync(self.connection.run(shlex.join(command.argv), timeout=NETWORK_TIMEOUT, check=False))
        except (self.asyncssh.Error, OSError, asyncio.TimeoutError) as error:
            raise CaptureError(f"{self.where}: {command.display}: {_said(error)}") from None
        if result.exit_status != 0:
            said = " ".join(str(result.stderr or "").split())[:300]
            raise Unreadable(f"exit {result.exit_status}: {said}")
        return str(result.stdout)

    def glob(self, pattern: str) -> list[str]:
        try:
            return sorted(self._sync(self.sftp.glob(pattern)))
        except (self.asyncssh.SFTPError, OSError):
            return []

    def read(self, path: str) -> tuple[str, bytes]:
        async def read() -> tuple[str, bytes]:
            real = await self.sftp.realpath(path)
            attributes = await self.sftp.stat(real)
            _check(stat.S_ISREG(attributes.permissions or 0), attributes.size or 0)
            async with self.sftp.open(real, "rb") as file:
                return real, await file.read(MAX_FILE_BYTES + 1)
        try:
            real, data = self._sync(read())
        except self.asyncssh.SFTPNoSuchFile:
            raise Unreadable("not found") from None
        except self.asyncssh.SFTPError as error:
            raise Unreadable(_said(error)) from None
        _check(True, len(data))
        return real, data


@dataclass
class ConfigCapture:
    """The folder's files (relative path -> bytes) and what was left out, and why."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _bound(path: str) -> tuple[str, str] | None:
    """(the folder's top, the path below it) for a path under /etc/dovecot or /etc/postfix."""
    for directory, top in ROOTS.items():
        if path.startswith(directory + "/"):
            return top, path[len(directory) + 1:]
    return None


def capture_config(source) -> ConfigCapture:
    """Walk the configuration `source` holds (DirSource or SshSource)."""
    captured = ConfigCapture()
    outputs: dict[str, str] = {}
    for name, command in COMMANDS.items():
        try:
            output = source.run(command)
        except Unreadable as why:
            captured.notes.append(f"{command.display} on {source.where}: {why}")
            continue
        if output is not None:
            outputs[name] = output
            captured.files[name] = redact(REFERENCE_KINDS[name], output).encode()
    main = doveconf_config_path(outputs.get(DOVECONF_N, "")) or f"{DOVECOT_DIR}/dovecot.conf"
    queue = [Reference(main, "dovecot", "the start", required=True),
             Reference(f"{POSTFIX_DIR}/main.cf", "main.cf", "the start"),
             Reference(f"{POSTFIX_DIR}/master.cf", "master.cf", "the start")]
    # what the running configuration names, besides what the files name
    queue += dovecot_references(outputs.get(DOVECONF_N, ""), main, "doveconf -n")
    queue += postfix_references(outputs.get(POSTCONF_N, ""), "postconf -n")
    queue += postfix_references(outputs.get(POSTCONF_M, ""), "master (postconf -M)")
    seen: set[str] = set()
    while queue:
        reference = queue.pop(0)
        if reference.include:
            if not _bound(reference.path):
                captured.skipped.append(f"{reference.path} ({reference.by}): outside {DOVECOT_DIR} and {POSTFIX_DIR}")
                continue
            matches = source.glob(reference.path)
            if not matches and reference.required:
                captured.skipped.append(f"{reference.path} ({reference.by}): not found")
            queue[:0] = [Reference(path, "dovecot", reference.by) for path in matches]
            continue
        if reference.path in seen:
            continue
        seen.add(reference.path)
        if "%" in reference.path or "*" in reference.path or not reference.path.startswith("/etc/"):
            continue  # a path per user, a pattern, a log or a socket: no file of the configuration
        if reference.kind in ("secret", "private-key"):
            what = "a secret" if reference.kind == "secret" else "a private key"
            captured.skipped.append(f"{reference.path} ({reference.by}): {what}, never copied")
            continue
        if not _bound(reference.path):
            captured.skipped.append(f"{reference.path} ({reference.by}): outside {DOVECOT_DIR} and {POSTFIX_DIR}")
            continue
        if len(captured.files) >= MAX_FILES:
            captured.skipped.append(f"{reference.path} ({reference.by}): more than {MAX_FILES} files")
            continue
        try:
            real, data = source.read(reference.path)
        except Unreadable as why:
            if reference.by != "the start" or reference.required:  # (a host without Postfix: no note)
                captured.skipped.append(f"{reference.path} ({reference.by}): {why}")
            continue
        place = _bound(real)
        if not place:
            captured.skipped.append(f"{reference.path} ({reference.by}): a symbolic link to {real}, outside "
                                    f"{DOVECOT_DIR} and {POSTFIX_DIR}")
            continue
        if holds_private_key(data):
            captured.skipped.append(f"{reference.path} ({reference.by}): holds a private key, never copied")
            continue
        text = data.decode("utf-8", errors="replace")
        kind = reference.kind
        if place[0] == "dovecot" and kind not in ("dovecot", "passwd-file"):
            kind = "dovecot"
        captured.files[f"{place[0]}/{place[1]}"] = redact(kind, text).encode()
        if kind == "dovecot":
            queue += dovecot_references(text, reference.path)
        elif kind in ("main.cf", "master.cf"):
            queue += postfix_references(text, kind)
    return captured


def write_folder(captured: ConfigCapture, out: Path) -> None:
    """The config folder under `out` (a new or empty directory), readable by its owner only."""
    _private_dir(out)
    for relative, data in sorted(captured.files.items()):
        path = out / relative
        _private_dir(path.parent)
        _private_file(path, data)
    if captured.skipped:
        _private_file(out / SKIPPED, "".join(f"{line}\n" for line in captured.skipped).encode())
