"""The snapshot model: the one truth about what a server's clients see for a set of users."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class Arrival:
    """A message sent to the new server during or after the migration: it must be there."""

    user: str
    message_id: str


class MessageState(BaseModel):
    uid: int
    sha256: str  # of the full message as IMAP serves it
    flags: list[str]  # system flags, sorted, without \Recent
    keywords: list[str]  # sorted
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
    folders: dict[str, FolderState]
    subscriptions: list[str]
    sieve: SieveState
    pop3_uidls: list[str]  # in POP3 order

    @property
    def message_count(self) -> int:
        return sum(len(folder.messages) for folder in self.folders.values())


class HostState(BaseModel):
    role: str
    users: dict[str, UserState]
    # The databases: "database.table" -> primary key -> column -> value (text, None for NULL).
    user_db: dict[str, dict[str, dict[str, str | None]]]

    @property
    def message_count(self) -> int:
        return sum(user.message_count for user in self.users.values())
