"""`maillab capture`: read a real IMAP server's shape (and with --with-content its mail) for a
scenario. runner/schema/shape.py turns what is read here into the scenario.

Read-only on the server: each folder is opened with EXAMINE (RFC 3501 6.3.2: "no changes to
the permanent state of the mailbox, including per-user state, are permitted"; \\Recent stays
as it was) and messages are read with FETCH FLAGS, INTERNALDATE, RFC822.SIZE and, only with
--with-content, BODY.PEEK[] (6.4.5: unlike BODY[], it does not set \\Seen). Besides that
only CAPABILITY, STARTTLS, LOGIN, NAMESPACE, LIST, LSUB, SEARCH ALL and LOGOUT are sent; ManageSieve
gets STARTTLS, AUTHENTICATE and LISTSCRIPTS.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sievelib.managesieve import Client as ManageSieveClient
from sievelib.managesieve import Error as ManageSieveError

from ..rehearsal.seed import KEYWORD_LETTERS, MAILDIR_FLAG_LETTERS
from ..rehearsal.snapshot import NOT_SELECTABLE, canonical_name
from ..schema.shape import DOTTED_NAMES_ESCAPE, FolderTally, UserShape, host_namespace
from ..schema.vocabulary import maildir_folder_path

log = logging.getLogger(__name__)

Tls = Literal["implicit", "starttls", "none"]
DEFAULT_PORTS = {"implicit": 993, "starttls": 143, "none": 143}
SHAPE_ITEMS = ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
CONTENT_ITEMS = [*SHAPE_ITEMS, "BODY.PEEK[]"]
SHAPE_BATCH = 2000  # messages per FETCH of facts only
CONTENT_BATCH = 100  # messages per FETCH with bodies: what is held in memory at once
NETWORK_TIMEOUT = 60  # seconds a server may take to answer


class CaptureError(Exception):
    """The server cannot be read (unreachable, TLS not verified, login refused): one line
    naming the host."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    tls: Tls
    ca_file: Path | None = None  # trusted besides the system's CAs
    sieve_port: int = 4190

    def ssl_context(self) -> ssl.SSLContext:
        """Certificates are verified, by the system's CAs or the one given (host name too)."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context

    @contextmanager
    def imap(self, login: str, password: str) -> Iterator[IMAPClient]:
        where = f"{self.host}:{self.port}"
        try:
            client = IMAPClient(self.host, port=self.port, ssl=self.tls == "implicit", timeout=NETWORK_TIMEOUT,
                                ssl_context=self.ssl_context() if self.tls == "implicit" else None)
        except (OSError, IMAPClientError) as error:
            raise CaptureError(f"cannot reach {where} (TLS: {self.tls}): {_said(error)}") from None
        try:
            # small IMAP commands stall on Nagle's algorithm behind a proxy (docker-proxy, a load balancer)
            client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.normalise_times = False
            if self.tls == "starttls":
                client.starttls(self.ssl_context())
            client.login(login, password)
        except LoginError as error:
            _close(client)
            raise CaptureError(f"{self.host} refused the login of {login}: {_said(error)}") from None
        except (OSError, IMAPClientError) as error:
            _close(client)
            raise CaptureError(f"{where}: {_said(error)}") from None
        try:
            yield client
        except (OSError, IMAPClientError) as error:
            raise CaptureError(f"{where}: reading as {login}: {_said(error)}") from None
        finally:
            try:
                client.logout()
            except (OSError, IMAPClientError):
                _close(client)

    def sieve_names(self, login: str, password: str) -> tuple[list[str], str | None] | str:
        """The user's Sieve script names and the active one, or why ManageSieve did not answer."""
        client = _ManageSieve(self.host, self.sieve_port, self.ssl_context())
        try:
            # sievelib connects without a timeout: whether anything listens is asked first, with one
            socket.create_connection((self.host, self.sieve_port), timeout=NETWORK_TIMEOUT).close()
            if not client.connect(login, password, starttls=self.tls != "none", authmech="PLAIN"):
                return f"ManageSieve on {self.host}:{self.sieve_port} refused the login"
            active, others = client.listscripts()
            client.logout()
        except (ManageSieveError, OSError) as error:
            return f"ManageSieve on {self.host}:{self.sieve_port} did not answer: {_said(error)}"
        return sorted([*others, active] if active else others), active or None


class _ManageSieve(ManageSieveClient):
    """sievelib's client with this capture's TLS context (it makes a default one of its own,
    which trusts no CA file) and the capture's network timeout."""

    read_timeout = NETWORK_TIMEOUT

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(host, port)
        self.context = context

    def _Client__enable_ssl(self, **_):  # sievelib's private __enable_ssl, called by its STARTTLS
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.srvaddr)


def _close(client: IMAPClient) -> None:
    """Drop the connection; a failed TLS handshake may have closed the socket already."""
    try:
        client.shutdown()
    except OSError:
        pass


def _said(error: BaseException) -> str:
    """What the error says, on one line (imapclient's carry the server's bytes: b'...')."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text.removeprefix("b'").removesuffix("'") if text.startswith("b'") else text


def login_name(user: str, master: str | None) -> str:
    """Dovecot's master user login (auth_master_user_separator = *): `user*master`."""
    return f"{user}*{master}" if master else user


def personal(name: str, prefix: str, others: list[str]) -> bool:
    """Whether a listed name is the user's own: in the personal namespace's prefix and not in
    another (other users', shared) namespace, whose prefix may lie within it (RFC 2342)."""
    if name.upper() == "INBOX":
        return True
    return name.startswith(prefix) and not any(other and name.startswith(other) for other in others)


def capture_user(server: Server, user: str, master: str | None, password: str,
                 content: MaildirWriter | None = None) -> tuple[UserShape, list[str]]:
    """One user's shape, read-only; with `content` also their mail, written as it is read.
    Returns the shape and notes (what was skipped, and why: no address in them)."""
    login = login_name(user, master)
    notes: list[str] = []
    with server.imap(login, password) as imap:
        namespaces = imap.namespace()
        prefix, separator = namespaces.personal[0]
        separator = separator or "/"
        others = [other for other, _ in (*(namespaces.other or ()), *(namespaces.shared or ()))]
        listed = imap.list_folders()
        subscribed = {canonical_name(name, prefix, separator) for _, _, name in imap.list_sub_folders()}
        tallies = []
        for flags, _, name in listed:
            canonical = canonical_name(name, prefix, separator)
            if NOT_SELECTABLE & {flag.lower() for flag in flags}:
                continue  # a level above folders: the scenario makes it from its children
            if not personal(name, prefix, others):
                notes.append(f"{name!r} is outside the personal namespace: not captured")
                continue
            tally = FolderTally(canonical, subscribed=canonical in subscribed)
            # EXAMINE; the next one leaves this folder (no UNSELECT: RFC 3691, not every server has it)
            imap.select_folder(name, readonly=True)
            _read_folder(imap, tally, content.folder(canonical) if content else None)
            tallies.append(tally)
            log.info("%s: %s: %d messages", user, canonical, tally.count)
    names = {tally.name for tally in tallies}
    sieve = server.sieve_names(login, password)
    if isinstance(sieve, str):
        notes.append(sieve)
        sieve = None
    return UserShape(folders=tallies, namespace=host_namespace(prefix, separator),
                     stray_subscriptions=len(subscribed - names),
                     sieve_scripts=sieve[0] if sieve else None, sieve_active=sieve[1] if sieve else None), notes


def _read_folder(imap: IMAPClient, tally: FolderTally, content: MaildirFolder | None) -> None:
    uids = imap.search("ALL")
    batch = CONTENT_BATCH if content else SHAPE_BATCH
    for start in range(0, len(uids), batch):
        fetched = imap.fetch(uids[start:start + batch], CONTENT_ITEMS if content else SHAPE_ITEMS)
        for uid, data in sorted(fetched.items()):
            flags = [flag.decode() for flag in data[b"FLAGS"]]
            tally.add(flags, data[b"RFC822.SIZE"], data[b"INTERNALDATE"])
            if content:
                content.write(uid, data[b"BODY[]"], flags, data[b"INTERNALDATE"])
    if content:
        content.close()


class MaildirWriter:
    """--with-content: each user's mail as a Maildir++ tree under `root`/<address> (the address
    the scenario gives the user), the way Dovecot keeps it: flags in the file name's info,
    keywords as letters listed in the folder's dovecot-keywords, mtime = INTERNALDATE."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.user_root: Path | None = None
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)

    def user(self, address: str) -> None:
        self.user_root = self.root / address

    def folder(self, name: str) -> MaildirFolder:
        path = self.user_root / maildir_folder_path(name, escape=DOTTED_NAMES_ESCAPE)
        return MaildirFolder(path, inbox=name == "INBOX")


class MaildirFolder:
    def __init__(self, path: Path, inbox: bool) -> None:
        self.path = path
        for sub in ("cur", "new", "tmp"):
            _private_dir(path / sub)
        if not inbox:
            _private_file(path / "maildirfolder", b"")
        self.letters: dict[str, str] = {}
        self.unlettered: set[str] = set()  # keywords beyond Maildir's 26 letters

    def write(self, uid: int, raw: bytes, flags: list[str], internaldate: dt.datetime) -> None:
        info = sorted(MAILDIR_FLAG_LETTERS[flag] for flag in flags if flag in MAILDIR_FLAG_LETTERS)
        for keyword in (flag for flag in flags if not flag.startswith("\\")):
            if keyword not in self.letters and len(self.letters) < len(KEYWORD_LETTERS):
                self.letters[keyword] = KEYWORD_LETTERS[len(self.letters)]
            if keyword in self.letters:
                info.append(self.letters[keyword])
            else:
                self.unlettered.add(keyword)
        stamp = internaldate.timestamp()
        # the UID first: seeding takes a Maildir in file-name order, and so keeps the server's order
        path = self.path / "cur" / f"{uid:010d}.{int(stamp)}.maillab-capture,S={len(raw)}:2,{''.join(sorted(info))}"
        _private_file(path, raw)
        os.utime(path, (stamp, stamp))

    def close(self) -> None:
        if self.letters:
            _private_file(self.path / "dovecot-keywords",
                          "".join(f"{n} {keyword}\n" for n, keyword in enumerate(self.letters)).encode())
        if self.unlettered:
            log.warning("%s: %d keywords beyond Maildir's 26 letters are not in the exported files: %s",
                        self.path, len(self.unlettered), ", ".join(sorted(self.unlettered)))


# A capture's mail is real people's: its folders 0700 and files 0600, whatever the umask.
def _private_dir(path: Path) -> None:
    """`path` and its missing parents (the writer's root exists) as directories only the user reads."""
    if not path.is_dir():
        _private_dir(path.parent)
        path.mkdir(mode=0o700)
        path.chmod(0o700)


def _private_file(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(descriptor, 0o600)
        file.write(data)
