"""The snapshot model: the one truth about what a server's clients see for a set of users."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from ...lab.own_config import ConfigProblem
from ..methods.context import Arrival, FlagChange
from .ledger import Ledger


@dataclass(slots=True)
class MessageState:
    """One message as a client sees it. A slotted dataclass, not a model: a rehearsal holds
    four snapshots, and at 100,000 messages each pydantic's instances took 640 MB."""

    uid: int
    sha256: str  # of the full message as IMAP serves it
    flags: tuple[str, ...]  # system flags, sorted, without \Recent
    keywords: tuple[str, ...]  # sorted
    internaldate: dt.datetime
    size: int  # RFC822.SIZE
    message_id: str | None = None
    # Dovecot's message GUID (IMAP FETCH X-GUID): what dsync matches messages by; clients do
    # not see it, but a later dsync or replication does.
    guid: str | None = None


class FolderState(BaseModel):
    name: str
    selectable: bool = True
    uidvalidity: int | None = None
    uidnext: int | None = None
    messages: list[MessageState] = []


class SieveState(BaseModel):
    scripts: dict[str, str] = {}  # name -> sha256 of the script
    active: str | None = None


class UserState(BaseModel):
    address: str
    login_error: str | None = None  # what IMAP answered when the user's login failed
    folders: dict[str, FolderState] = {}
    subscriptions: list[str] = []
    sieve: SieveState = SieveState()
    pop3_uidls: list[str] = []  # in POP3 order

    @property
    def message_count(self) -> int:
        return sum(len(folder.messages) for folder in self.folders.values())


class HostState(BaseModel):
    role: str
    users: dict[str, UserState]
    # The databases: "database.table" -> primary key -> column -> value (text, None for NULL).
    user_db: dict[str, dict[str, dict[str, str | None]]]
    # Services that did not answer a login when the snapshot was taken, with what the client
    # saw ("IMAP", "POP3", "ManageSieve", "SMTP"); what they serve is not in this snapshot.
    unanswered: dict[str, str] = {}

    @property
    def message_count(self) -> int:
        return sum(user.message_count for user in self.users.values())


def write_snapshot(state: HostState, path: Path) -> None:
    """The snapshot as JSON, one user at a time: the whole text of a 100,000-message host is
    about 40 MB, held twice while written at once."""
    with path.open("wb") as out:
        out.write(state.model_dump_json(exclude={"users"}).encode()[:-1] + b', "users": {')
        for n, (address, user) in enumerate(state.users.items()):
            out.write(b", " * bool(n) + json.dumps(address).encode() + b": " + user.model_dump_json(indent=1).encode())
        out.write(b"}}\n")


def read_snapshot(path: Path) -> HostState:
    """A snapshot that write_snapshot wrote, its recurring values held once, as snapshot.py
    holds them: interned strings are shared with the rehearsal's later snapshots."""
    state = HostState.model_validate_json(path.read_bytes())
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    for user in state.users.values():
        for folder in user.folders.values():
            for message in folder.messages:
                message.sha256 = sys.intern(message.sha256)
                message.message_id = message.message_id and sys.intern(message.message_id)
                message.guid = message.guid and sys.intern(message.guid)
                message.flags = shared.setdefault(message.flags, message.flags)
                message.keywords = shared.setdefault(message.keywords, message.keywords)
    return state


@dataclass(frozen=True)
class TlsCheck:
    """A client connecting to `name` for `service` and verifying the certificate by that name."""

    name: str
    service: str
    ok: bool
    detail: str  # what the client saw


@dataclass(frozen=True)
class Evidence:
    """Everything the verdict is judged on: old before and after, new after the first run of
    the steps and at the end, and what arrived at new during the migration."""

    baseline: HostState  # old, before the migration
    old: HostState | None  # old at the end; None in place (the host upgraded is `new`)
    new: HostState  # new at the end (after the idempotence rerun, when there was one)
    converged: HostState | None = None  # new after the first run, when the steps ran twice
    # steps are meant to change old's mail (cutover): new must hold old as it is at the end
    old_changes_declared: bool = False
    arrivals: tuple[Arrival, ...] = ()  # sent to new by steps: must be in `new`
    # What old may show beyond its baseline (the source check): the Message-IDs old's own
    # Postfix took in (send_mail steps, mail in its queue, the internet's), the flags steps
    # changed there, and whether an sql step changed its database.
    old_mail: frozenset[str] = frozenset()
    old_flags: tuple[FlagChange, ...] = ()
    old_db_declared: bool = False
    undelivered: tuple[Arrival, ...] = ()  # sent to new after the migration and never delivered
    # A live cutover: the Message-IDs the internet sent (judged by the ledger, not compared)
    traffic: frozenset[str] = frozenset()
    ledger: Ledger | None = None
    tls: tuple[TlsCheck, ...] = ()
    # the admin's own configuration on new, as Dovecot and Postfix refused it
    config_refused: tuple[ConfigProblem, ...] = ()
    # old's server (HostSpec.server): Gmail's mail reaches new in Dovecot's shape (compare.from_gmail)
    source_server: str = "dovecot"
