"""Taking a snapshot of a host: what IMAP, POP3 and ManageSieve clients see, plus the user
database rows. Everything goes through the host's ports published on the engine's address."""

from __future__ import annotations

import datetime as dt
import hashlib
import imaplib
import logging
import multiprocessing
import os
import re
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache
from itertools import repeat

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ...lab.containers import PASSWD_FILE, imap_login
from ...lab.errors import LabError
from ...lab.stores import hidden, store_of
from ...lab.stores.mariadb import database_rows
from ..schema.vocabulary import DATABASES
from .on_disk import UsersOnDisk
from .state import FolderState, HostState, MessageState, SieveState, UserState

log = logging.getLogger(__name__)

FETCH_ITEMS = "UID FLAGS INTERNALDATE RFC822.SIZE"  # then the host's GUID_ITEM, then BODY.PEEK[]
FLAGS_ITEM = re.compile(rb"\bFLAGS \([^)]*\)")
UID_ITEM = re.compile(rb"\bUID (\d+)")
SIZE_ITEM = re.compile(rb"\bRFC822\.SIZE (\d+)")
# RFC 3501 date-time: "DD-Mon-YYYY HH:MM:SS +HHMM" (strptime took a third of the parsing)
INTERNALDATE_ITEM = re.compile(rb'\bINTERNALDATE " ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([-+])(\d\d)(\d\d)"')
MONTHS = {month: n for n, month in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), start=1)}
# Dovecot's X-GUID (a string) or Gmail's X-GM-MSGID (a number)
GUID_ITEM = re.compile(rb'\b(?:X-GUID|X-GM-MSGID) (?:"((?:[^"\\]|\\.)*)"|([^\s()"]+))')
FETCH_BATCH = 500
PARALLEL_FROM = 2_000  # messages in a folder; below this one session is faster than several
WORKERS = os.cpu_count() or 1
SESSIONS = 4  # users read at once (IMAP, POP3 and ManageSieve sessions in threads)
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
NOT_SELECTABLE = {b"\\noselect", b"\\nonexistent"}


def snapshot_host(host, passwords: dict[str, str], earlier: HostState | None = None) -> HostState:
    [state] = snapshot_hosts([host], passwords, {host.role: earlier} if earlier else {})
    return state


def snapshot_hosts(hosts: list, passwords: dict[str, str], earlier: Mapping[str, HostState] | None = None) \
        -> list[HostState]:
    """What each user's clients see on each host, the database rows, and which services did
    not answer (what they serve is then left out, and the verdict says so). Users and hosts
    are read at once: most of the time goes to waiting for the servers. Each user goes to disk
    as soon as it is read (on_disk.UsersOnDisk). `earlier`: per role, a snapshot this lab took
    of that host before, whose messages' bytes are not read again (_messages)."""
    earlier = earlier or {}
    started = time.time()
    unanswered = {host.role: host.probe() for host in hosts}
    present = {host.role: host.homes_present(list(passwords)) for host in hosts}
    unknown = {host.role: _unknown(host, [a for a in passwords if a not in present[host.role]], unanswered[host.role])
               for host in hosts}
    stores = {host.role: UsersOnDisk() for host in hosts}
    with ThreadPoolExecutor(SESSIONS) as pool:
        # per host, address -> the login error, if any (the user itself is in the store)
        login_errors = {host.role: {address: pool.submit(_user, host, address, password, unanswered[host.role],
                                                         stores[host.role], earlier.get(host.role))
                                    if address in present[host.role]
                                    else _nothing_yet(host, address, unknown[host.role], stores[host.role])
                                    for address, password in passwords.items()} for host in hosts}
        user_db = {host.role: pool.submit(snapshot_user_db, host) for host in hosts
                   if "MariaDB" in host.SERVICES and "MariaDB" not in unanswered[host.role]}
        failed = {role: [address for address, error in login_errors[role].items() if error.result()]
                  for role in login_errors}
        return [HostState(role=host.role, users=_with_reasons(host, stores[host.role].ordered(list(passwords)),
                                                              failed[host.role], started, unknown[host.role]),
                          user_db=user_db[host.role].result() if host.role in user_db else {},
                          unanswered=unanswered[host.role]) for host in hosts]


def _with_reasons(host, users: UsersOnDisk, failed: list[str], started: float, unknown: set[str]) -> UsersOnDisk:
    """The users, each failed login with what the server logged about it (read from the
    container's log since the snapshot began, a second early: Docker counts whole seconds);
    a user the userdb does not know was never tried."""
    failed = [address for address in failed if address not in unknown]
    if not failed:
        return users
    reasons = login_reasons(host.logs(since=started - 1), failed)
    for address in failed:
        said = reasons.get(address, "no line about this user")
        user = users[address]
        users.put(user.model_copy(update={"login_error": f"{user.login_error}; {host.role}'s log: {said}"}))
    return users


# Dovecot's own time stamp on its lines in the container log ('Dec 04 23:37:50 ').
LOG_TIME = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")
# Where a line names a user: 2.4 'auth(user,...)', 2.3 'passwd-file(user,...)', a login
# process's 'user=<user>'.
NAMED_USER = re.compile(r"[(<]([^\s(),<>]+@[^\s(),<>]+)[,)>]")


def login_reasons(log: str, addresses: list[str]) -> dict[str, str]:
    """Per user among `addresses` whom the log names: why its login failed, as the server
    said it. The auth service's lines (its error, e.g. 2.4's weak-scheme refusal) win over
    the login process's ('Disconnected (auth failed, ...)'); each distinct line once, in order."""
    wanted = set(addresses)
    auth: dict[str, list[str]] = {}
    login: dict[str, list[str]] = {}
    for line in log.splitlines():
        text = LOG_TIME.sub("", line.strip())
        said = auth if text.startswith("auth") else login if text.split(":", 1)[0].endswith("-login") else None
        if said is None:
            continue
        for address in wanted.intersection(NAMED_USER.findall(text)):
            if text not in said.setdefault(address, []):
                said[address].append(text)
    return {address: " | ".join(auth.get(address) or login[address]) for address in addresses
            if address in auth or address in login}


def _unknown(host, addresses: list[str], unanswered: dict[str, str]) -> set[str]:
    """Of the users without a home here, those the host's userdb does not know: no client of
    theirs could log in (a user store not carried over), which must never pass as 'no mail yet'."""
    if "IMAP" in unanswered:
        return set()
    return host.users_unknown(addresses) or set()


def _nothing_yet(host, address: str, unknown: set[str], store: UsersOnDisk) -> Future:
    """A user without a home has no mail here yet (a login would make an INBOX), or is not a
    user here at all."""
    done: Future = Future()
    if address in unknown:
        log.info("%s: %s: not in the userdb", host.role, address)
        user = UserState(address=address, login_error=f"{host.role}'s userdb does not know the user "
                                                      "(doveadm user: user doesn't exist)")
    else:
        log.info("%s: %s: no mailbox yet", host.role, address)
        user = UserState(address=address)
    store.put(user)
    done.set_result(user.login_error)
    return done


def _user(host, address: str, password: str, unanswered: dict[str, str], store: UsersOnDisk,
          earlier: HostState | None) -> str | None:
    """Read the user into `store`; its login error, if any."""
    before = earlier.users[address] if earlier and address in earlier.users else None
    state = snapshot_user(host, address, password, unanswered, before)
    log.info("%s: %s: %d messages", host.role, address, state.message_count)
    store.put(state)
    return state.login_error


def snapshot_user(host, address: str, password: str, unanswered: dict[str, str] | None = None,
                  earlier: UserState | None = None) -> UserState:
    unanswered = unanswered or {}
    if "IMAP" in unanswered:
        return UserState(address=address)
    try:
        folders, subscriptions = _imap_state(host, address, password, earlier.folders if earlier else {})
    except LoginError as error:  # the server answers, but not for this user
        return UserState(address=address, login_error=str(error))
    return UserState(
        address=address,
        folders=folders,
        subscriptions=subscriptions,
        sieve=SieveState() if "ManageSieve" in unanswered or "ManageSieve" not in host.SERVICES
        else _sieve_state(host, address, password),
        pop3_uidls=[] if "POP3" in unanswered else _pop3_uidls(host, address, password),
    )


def canonical_name(name: str, prefix: str, separator: str) -> str:
    """A folder's name as the scenario writes it ('Archive/2023'), whatever the server's
    namespace shows clients (Courier-style 'INBOX.Archive.2023')."""
    if name.upper() == "INBOX":
        return "INBOX"
    return name.removeprefix(prefix).replace(separator, "/")


def _imap_state(host, address: str, password: str, earlier: dict[str, FolderState]) \
        -> tuple[dict[str, FolderState], list[str]]:
    folders: dict[str, FolderState] = {}
    with host.imap(address, password) as imap:
        prefix, separator = imap.namespace().personal[0]
        subscriptions = sorted(canonical_name(name, prefix, separator)
                               for name in _subscribed(imap.list_sub_folders(), separator))
        for flags, _, name in imap.list_folders():
            canonical = canonical_name(name, prefix, separator)
            if NOT_SELECTABLE & {flag.lower() for flag in flags}:
                folders[canonical] = FolderState(name=canonical, selectable=False)
                continue
            try:
                status = imap.folder_status(name, ["UIDVALIDITY", "UIDNEXT"])
            except IMAPClientError as error:
                # Dovecot lists the parent a dsync from Gmail's `[Gmail]` (Noselect) made, without
                # \Noselect, and answers STATUS "NO [NONEXISTENT]" (measured, Maildir++): what a client
                # sees is a folder it cannot open
                if "doesn't exist" not in str(error):
                    raise
                folders[canonical] = FolderState(name=canonical, selectable=False)
                continue
            imap.select_folder(name, readonly=True)
            known = _known_messages(earlier.get(canonical), status[b"UIDVALIDITY"])
            messages = _messages(host, imap, (address, password, name), imap.search("ALL"), known)
            # UNSELECT (RFC 3691) where the server has it; Courier has not: CLOSE, which on a
            # folder opened read-only (EXAMINE) expunges nothing (RFC 3501 6.4.2)
            imap.unselect_folder() if imap.has_capability("UNSELECT") else imap.close_folder()
            folders[canonical] = FolderState(
                name=canonical, uidvalidity=status[b"UIDVALIDITY"], uidnext=status[b"UIDNEXT"], messages=messages
            )
    return folders, subscriptions


def fetch_query(guid_item: str | None, body: bool = True) -> str:
    """What a snapshot asks of each message, with or without its bytes; a server asked for an
    item it lacks answers BAD."""
    return f"({FETCH_ITEMS}{' ' + guid_item if guid_item else ''}{' BODY.PEEK[]' if body else ''})"


def _known_messages(earlier: FolderState | None, uidvalidity: int) -> dict[int, MessageState]:
    """The folder's messages in an earlier snapshot, by UID, if the folder still has the
    UIDVALIDITY it had then: only then does a UID still name the same message (RFC 3501 2.3.1.1)."""
    if earlier is None or earlier.uidvalidity != uidvalidity:
        return {}
    return {message.uid: message for message in earlier.messages}


def same_message(earlier: MessageState, now: MessageState) -> bool:
    """Whether `now`, with `earlier`'s UID in a folder of the same UIDVALIDITY, is still that
    message: its GUID, size and INTERNALDATE too. A message's bytes never change (RFC 3501 2.3.1.1
    and 2.3.1: a changed message is a new message, with a new UID)."""
    return (earlier.guid, earlier.size, earlier.internaldate) == (now.guid, now.size, now.internaldate)


def _messages(host, imap: IMAPClient, session: tuple[str, str, str], uids: list[int],
              known: dict[int, MessageState]) -> list[MessageState]:
    """The selected folder's messages `uids`, in UID order. Those an earlier snapshot `known`
    holds, the same message still (same_message), are read without their bytes (flags and
    keywords are what may have changed): their hash and Message-ID are the earlier ones. A
    10,000-message mailbox so: 0.3 s instead of 1.7 s (docs/rehearsal.md, bench/bench.py)."""
    kept: list[MessageState] = []
    if known:
        listed = _fetch(imap, uids, host.GUID_ITEM, body=False)
        kept = [replace(message, sha256=before.sha256, message_id=before.message_id) for message in listed
                if (before := known.get(message.uid)) and same_message(before, message)]
        vouched = {message.uid for message in kept}
        uids = [uid for uid in uids if uid not in vouched]
    if len(uids) >= PARALLEL_FROM and WORKERS > 1:
        fetched = _fetch_in_workers(host.port("imap"), *session, uids, host.GUID_ITEM)
    else:
        fetched = _fetch(imap, uids, host.GUID_ITEM)
    return sorted(kept + fetched, key=lambda message: message.uid) if kept else fetched


def _subscribed(lsub: list, separator: str) -> list[str]:
    """The names LSUB answered, but a parent it lists only for a subscribed folder below it: marked
    Noselect, it is not subscribed itself (RFC 3501 6.3.9; Courier lists such parents, Dovecot not)."""
    names = [name for _, _, name in lsub]
    return [name for flags, _, name in lsub
            if not (b"\\noselect" in {flag.lower() for flag in flags}
                    and any(other.startswith(name + separator) for other in names))]


def _fetch(imap: IMAPClient, uids: list[int], guid_item: str | None, body: bool = True) -> list[MessageState]:
    """The messages `uids` of the selected folder, in UID order. Read through imapclient's
    own imaplib connection: imapclient's response parser lexes every byte of the metadata in
    Python, which limited a snapshot to ~2,000 messages a second; the stdlib returns each
    FETCH response as its text and its literal, parsed here with imaplib's ParseFlags and
    one pattern per item (tests/integration/test_snapshot.py proves it equal to imapclient's)."""
    connection = imap._imap  # noqa: SLF001
    connection.debug = 0  # imapclient turns imaplib's trace on, and the trace formats every body it reads
    messages, query = [], fetch_query(guid_item, body)
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start:start + FETCH_BATCH]
        kind, data = connection.uid("FETCH", ",".join(map(str, batch)), query)
        if kind != "OK":
            raise LabError(f"FETCH of {len(batch)} messages failed: {data}")
        messages += sorted(_fetched_messages(data, body), key=lambda message: message.uid)
    return messages


def _fetched_messages(data: list, with_body: bool = True) -> Iterator[MessageState]:
    """imaplib's FETCH data. With the body: per message a (text up to the literal, literal) pair
    and the text after it (the closing parenthesis, or items the server put after the body).
    Without: per message its text (no item of a snapshot's but the body comes as a literal)."""
    for i, item in enumerate(data):
        if isinstance(item, tuple):
            if not with_body:
                raise LabError(f"the server sent an item of a message as a literal: {item[0][:200]!r}")
            after = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
            yield _message_state(item[0] + b" " + after, item[1])
        elif not with_body:
            yield _message_state(item, None)


def _item(pattern: re.Pattern[bytes], text: bytes) -> re.Match[bytes]:
    found = pattern.search(text)
    if found is None:
        raise LabError(f"the server's FETCH response lacks {pattern.pattern[:16]!r}: {text[:200]!r}")
    return found


def _internaldate(text: bytes) -> dt.datetime:
    day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = _item(INTERNALDATE_ITEM, text).groups()
    offset = dt.timedelta(hours=int(zone_hours), minutes=int(zone_minutes)) * (-1 if sign == b"-" else 1)
    local = dt.datetime(int(year), MONTHS[month.lower()], int(day), int(hour), int(minute), int(second),
                        tzinfo=dt.timezone(offset))
    return local.astimezone(dt.timezone.utc)


def _message_state(text: bytes, body: bytes | None) -> MessageState:
    """The message of a FETCH response; without its `body`, its hash and Message-ID are left
    empty for _messages to fill from an earlier snapshot."""
    flags_item = FLAGS_ITEM.search(text)
    flags, keywords = _flags(flags_item.group(0) if flags_item else b"")
    text = FLAGS_ITEM.sub(b"", text)  # a keyword may look like an item's name
    found = None
    if body is not None:
        header_end = body.find(b"\r\n\r\n")
        found = MESSAGE_ID.search(body, 0, header_end if header_end >= 0 else len(body))
    guid = GUID_ITEM.search(text)
    return MessageState(
        uid=int(_item(UID_ITEM, text).group(1)),
        sha256=hashlib.sha256(body).hexdigest() if body is not None else "",
        flags=flags,
        keywords=keywords,
        internaldate=_internaldate(text),
        size=int(_item(SIZE_ITEM, text).group(1)),
        message_id=found.group(1).decode(errors="replace") if found else None,
        guid=(guid.group(1) or guid.group(2)).decode() if guid else None,
    )


@lru_cache(maxsize=4096)
def _flags(item: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """System flags (without \\Recent) and keywords of a FLAGS item, each sorted; one tuple
    for every message with the same flags."""
    flags = [flag.decode() for flag in imaplib.ParseFlags(item)] if item else []
    return (tuple(sorted(f for f in flags if f.startswith("\\") and f.lower() != "\\recent")),
            tuple(sorted(f for f in flags if not f.startswith("\\"))))


def _fetch_in_workers(port: int, address: str, password: str, folder: str, uids: list[int],
                      guid_item: str | None) -> list[MessageState]:
    """Parsing FETCH responses is CPU-bound Python: split a big folder's UIDs across cores,
    each worker with its own IMAP session."""
    share = -(-len(uids) // WORKERS)
    parts = [uids[i:i + share] for i in range(0, len(uids), share)]
    # forkserver: snapshots read users in threads, and a fork would copy their held locks
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("forkserver")) as pool:
        fetched = pool.map(_fetch_part, repeat(port), repeat(address), repeat(password), repeat(folder), parts,
                           repeat(guid_item))
        return [message for part in fetched for message in part]


def _fetch_part(port: int, address: str, password: str, folder: str, uids: list[int],
                guid_item: str | None) -> list[MessageState]:
    with imap_login(port, address, password) as imap:
        imap.select_folder(folder, readonly=True)
        return _fetch(imap, uids, guid_item)


def _sieve_state(host, address: str, password: str) -> SieveState:
    with host.managesieve(address, password) as client:
        active, others = client.listscripts()
        names = sorted([*others, active] if active else others)
        scripts = {name: hashlib.sha256(client.getscript(name).encode()).hexdigest() for name in names}
    return SieveState(scripts=scripts, active=active or None)


def _pop3_uidls(host, address: str, password: str) -> list[str]:
    pop = host.pop3(address, password)
    try:
        _, lines, _ = pop.uidl()
        return [line.split(b" ", 1)[1].decode() for line in lines]
    finally:
        pop.quit()


PASSWD_FILE_FIELDS = ("user", "password", "uid", "gid", "gecos", "home", "shell", "extra")


def snapshot_user_db(host) -> dict[str, dict[str, dict[str, str | None]]]:
    """Every row of the lab's databases (ISPmail's mailserver, Roundcube's roundcube), keyed
    by its first column; a passwd-file user store or the admin's own (lab/stores) stands in
    for mailserver."""
    dump: dict[str, dict[str, dict[str, str | None]]] = {}
    databases = list(DATABASES)
    if store := host.spec.own_store:
        dump.update(store_of(store).rows(host, store))
        databases.remove("mailserver")
    elif host.spec.user_store == "passwd-file":
        text = host.read_file(PASSWD_FILE).decode()
        dump["passwd-file"] = {line.split(":", 1)[0]: hidden(host, dict(zip(PASSWD_FILE_FIELDS, line.split(":"),
                                                                              strict=False)))
                               for line in text.splitlines() if line}
        databases.remove("mailserver")
    for database in databases:
        dump.update(database_rows(host, database))
    return dump
