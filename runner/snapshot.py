"""Taking a snapshot of a host: what IMAP, POP3 and ManageSieve clients see, plus the user
database rows. Everything goes through the host's ports published on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import poplib
import re
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

from imapclient import IMAPClient

from sievelib.managesieve import Client as ManageSieveClient

from lab.errors import LabError
from lab.host import MailHostContainer, imap_login
from runner.state import FolderState, HostState, MessageState, SieveState, UserState

FETCH_ITEMS = ["BODY.PEEK[]", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "X-GUID"]  # X-GUID: Dovecot's
FETCH_BATCH = 500
PARALLEL_FROM = 2_000  # messages in a folder; below this one session is faster than several
WORKERS = os.cpu_count() or 1
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
NOT_SELECTABLE = {b"\\noselect", b"\\nonexistent"}


def snapshot_host(host: MailHostContainer, passwords: dict[str, str],
                  say: Callable[[str], None] = lambda _: None) -> HostState:
    users = {}
    for address, password in passwords.items():
        users[address] = snapshot_user(host, address, password)
        say(f"{host.role}: {address}: {users[address].message_count} messages")
    return HostState(role=host.role, users=users, user_db=snapshot_user_db(host))


def snapshot_user(host: MailHostContainer, address: str, password: str) -> UserState:
    folders, subscriptions = _imap_state(host, address, password)
    return UserState(
        address=address,
        folders=folders,
        subscriptions=subscriptions,
        sieve=_sieve_state(host, address, password),
        pop3_uidls=_pop3_uidls(host, address, password),
    )


def canonical_name(name: str, prefix: str, separator: str) -> str:
    """A folder's name as the scenario writes it ('Archive/2023'), whatever the server's
    namespace shows clients (Courier-style 'INBOX.Archive.2023')."""
    if name.upper() == "INBOX":
        return "INBOX"
    return name.removeprefix(prefix).replace(separator, "/")


def _imap_state(host: MailHostContainer, address: str, password: str) -> tuple[dict[str, FolderState], list[str]]:
    folders: dict[str, FolderState] = {}
    with host.imap(address, password) as imap:
        prefix, separator = imap.namespace().personal[0]
        subscriptions = sorted(canonical_name(name, prefix, separator) for _, _, name in imap.list_sub_folders())
        for flags, _, name in imap.list_folders():
            canonical = canonical_name(name, prefix, separator)
            if NOT_SELECTABLE & {flag.lower() for flag in flags}:
                folders[canonical] = FolderState(name=canonical, selectable=False)
                continue
            status = imap.folder_status(name, ["UIDVALIDITY", "UIDNEXT"])
            imap.select_folder(name, readonly=True)
            uids = imap.search("ALL")
            if len(uids) >= PARALLEL_FROM and WORKERS > 1:
                messages = _fetch_in_workers(host.port("imap"), address, password, name, uids)
            else:
                messages = _fetch(imap, uids)
            imap.unselect_folder()
            folders[canonical] = FolderState(
                name=canonical, uidvalidity=status[b"UIDVALIDITY"], uidnext=status[b"UIDNEXT"], messages=messages
            )
    return folders, subscriptions


def _fetch(imap: IMAPClient, uids: list[int]) -> list[MessageState]:
    """The messages `uids` of the selected folder, in UID order."""
    messages = []
    for start in range(0, len(uids), FETCH_BATCH):
        fetched = imap.fetch(uids[start:start + FETCH_BATCH], FETCH_ITEMS)
        messages += [_message_state(uid, data) for uid, data in sorted(fetched.items())]
    return messages


def _fetch_in_workers(port: int, address: str, password: str, folder: str, uids: list[int]) -> list[MessageState]:
    """Parsing FETCH responses is CPU-bound Python: split a big folder's UIDs across cores,
    each worker with its own IMAP session."""
    share = -(-len(uids) // WORKERS)
    parts = [uids[i:i + share] for i in range(0, len(uids), share)]
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("fork")) as pool:
        fetched = pool.map(_fetch_part, repeat(port), repeat(address), repeat(password), repeat(folder), parts)
        return [message for part in fetched for message in part]


def _fetch_part(port: int, address: str, password: str, folder: str, uids: list[int]) -> list[MessageState]:
    with imap_login(port, address, password) as imap:
        imap.select_folder(folder, readonly=True)
        return _fetch(imap, uids)


def _message_state(uid: int, data: dict[bytes, object]) -> MessageState:
    body: bytes = data[b"BODY[]"]  # type: ignore[assignment]
    flags = [flag.decode() for flag in data[b"FLAGS"]]  # type: ignore[union-attr]
    header_end = body.find(b"\r\n\r\n")
    found = MESSAGE_ID.search(body, 0, header_end if header_end >= 0 else len(body))
    return MessageState(
        uid=uid,
        sha256=hashlib.sha256(body).hexdigest(),
        flags=sorted(f for f in flags if f.startswith("\\") and f.lower() != "\\recent"),
        keywords=sorted(f for f in flags if not f.startswith("\\")),
        internaldate=data[b"INTERNALDATE"].astimezone(dt.timezone.utc),  # imapclient's tzinfo won't pickle
        size=data[b"RFC822.SIZE"],
        message_id=found.group(1).decode(errors="replace") if found else None,
        guid=data[b"X-GUID"].decode() if data.get(b"X-GUID") else None,  # type: ignore[union-attr]
    )


def _sieve_state(host: MailHostContainer, address: str, password: str) -> SieveState:
    client = ManageSieveClient("127.0.0.1", host.port("sieve"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plaintext on the lab's loopback port is intended
        if not client.connect(address, password, authmech="PLAIN"):
            raise LabError(f"ManageSieve login for {address} on '{host.role}' failed")
    try:
        active, others = client.listscripts()
        names = sorted([*others, active] if active else others)
        scripts = {name: hashlib.sha256(client.getscript(name).encode()).hexdigest() for name in names}
    finally:
        client.logout()
    return SieveState(scripts=scripts, active=active or None)


def _pop3_uidls(host: MailHostContainer, address: str, password: str) -> list[str]:
    pop = poplib.POP3("127.0.0.1", host.port("pop3"), timeout=60)
    try:
        pop.user(address)
        pop.pass_(password)
        _, lines, _ = pop.uidl()
        return [line.split(b" ", 1)[1].decode() for line in lines]
    finally:
        pop.quit()


DATABASES = ("mailserver", "roundcube")
PASSWD_FILE_FIELDS = ("user", "password", "uid", "gid", "gecos", "home", "shell", "extra")


def snapshot_user_db(host: MailHostContainer) -> dict[str, dict[str, dict[str, str | None]]]:
    """Every row of the lab's databases (ISPmail's mailserver, Roundcube's roundcube), keyed
    by its first column; a passwd-file user store stands in for mailserver."""
    dump: dict[str, dict[str, dict[str, str | None]]] = {}
    if host.config.user_store == "passwd-file":
        text = host.read_file("/etc/dovecot/users").decode()
        dump["passwd-file"] = {line.split(":", 1)[0]: dict(zip(PASSWD_FILE_FIELDS, line.split(":"), strict=False))
                               for line in text.splitlines() if line}
    for database in DATABASES:
        if database == "mailserver" and host.config.user_store == "passwd-file":
            continue
        tables = host.run_checked(["mysql", "-B", "-N", database, "-e", "SHOW TABLES"], f"listing {database}")
        for table in tables.stdout.split():
            result = host.run_checked(["mysql", "-B", database, "-e", f"SELECT * FROM `{table}`"],
                                      f"reading {database}.{table}")
            header, *lines = result.stdout.splitlines() or [""]
            columns = header.split("\t")
            rows = [dict(zip(columns, (None if cell == "NULL" else cell for cell in line.split("\t")), strict=True))
                    for line in lines]
            dump[f"{database}.{table}"] = {row[columns[0]] or "": row for row in rows}
    return dump
