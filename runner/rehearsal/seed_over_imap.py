"""Seeding a server that is not Dovecot (Courier-IMAP, Cyrus IMAP as old) the way its users'
clients fill it: the users made by the server's own tools, then per user over IMAP each folder
CREATEd, its messages APPENDed with their flags, keywords and INTERNALDATE in delivery order,
the folders SUBSCRIBEd as the scenario says, and the Sieve scripts PUT over ManageSieve where
the server has it. The server writes its own files (UIDs, UIDVALIDITY, its keyword and UID
databases) as it does for real clients: nothing of Dovecot's is assumed on disk.
"""

from __future__ import annotations

import logging
import re

from ..schema.vocabulary import GMAIL_UIDL

from ..schema.scenario import Scenario, UserSpec
from .messages import folder_messages, labelled, pop3_deleted

APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")  # RFC 4315's answer to APPEND: the new message's UID

log = logging.getLogger(__name__)


def seed_over_imap(host, scenario: Scenario, passwords: dict[str, str]) -> int:
    """Every user of the scenario onto `host`; returns the number of messages written."""
    host.add_users(passwords)
    written = 0
    for user in scenario.users:
        written += _seed_user(host, scenario.seed, user, passwords[user.address])
        log.info("seeded %s: over IMAP", user.address)
    return written


def _seed_user(host, seed: int, user: UserSpec, password: str) -> int:
    written, deleted = 0, []
    with host.imap(user.address, password) as imap:
        for folder in user.folders:  # all first: a label names a folder further down
            if folder.name != "INBOX":
                _create_with_parents(imap, host.spec.imap_name, folder.name)
        for folder in user.folders:
            name = host.spec.imap_name(folder.name)
            uids = []
            messages = folder_messages(seed, user, folder)
            for message in messages:
                # IMAP carries lines ended by CRLF (RFC 3501); generated mail keeps Maildir's LF
                raw = message.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                answer = imap.append(name, raw, flags=(*message.flags, *message.keywords), msg_time=message.internaldate)
                uids.append(int(found.group(1)) if (found := APPENDUID.search(answer)) else None)
                written += 1
            if folder.subscribed:
                imap.subscribe_folder(name)
            _label(imap, host, name, uids, labelled(seed, user, folder, len(messages)))
            deleted += _gmail_ids(imap, name, [uids[n] for n in pop3_deleted(seed, user, folder, len(messages))])
    if deleted:
        _delete_over_pop3(host, user.address, password, {GMAIL_UIDL.format(msgid) for msgid in deleted})
    if user.sieve and "ManageSieve" in host.SERVICES:
        with host.managesieve(user.address, password) as client:
            for script, text in user.sieve.scripts.items():
                if not client.putscript(script, text):
                    raise OSError(f"{host.role} refused {user.address}'s Sieve script '{script}': {client.errmsg}")
            if user.sieve.active and not client.setactive(user.sieve.active):
                raise OSError(f"{host.role} did not activate {user.address}'s Sieve script: {client.errmsg}")
    return written


def _label(imap, host, name: str, uids: list[int | None], labels: dict[str, list[int]]) -> None:
    """Give the folder's chosen messages their other labels as Gmail's clients do: UID COPY into
    each label's folder adds the label to the one message (it is not copied)."""
    if not any(labels.values()):
        return
    if None in uids:
        raise OSError(f"{host.role} answered APPEND without its UID (RFC 4315's APPENDUID): no labels can be given")
    imap.select_folder(name)
    for label, chosen in labels.items():
        if chosen:
            imap.copy([uids[n] for n in chosen], host.spec.imap_name(label))
    imap.close_folder()  # nothing is \Deleted: nothing is expunged (Gmail's clients need no UNSELECT)


def _gmail_ids(imap, folder: str, uids: list[int | None]) -> list[int]:
    """The X-GM-MSGIDs of the folder's messages `uids` (what Gmail's POP3 UIDLs are made of)."""
    if not uids:
        return []
    if None in uids:
        raise OSError(f"{folder}: APPEND answered without the UID (RFC 4315's APPENDUID)")
    imap.select_folder(folder, readonly=True)
    found = imap.fetch(uids, ["X-GM-MSGID"])
    imap.close_folder()
    return [found[uid][b"X-GM-MSGID"] for uid in uids]


def _delete_over_pop3(host, address: str, password: str, uidls: set[str]) -> None:
    """DELE the messages of `uidls` in one POP3 session, as the user's POP3 client did."""
    pop = host.pop3(address, password)
    try:
        _, lines, _ = pop.uidl()
        numbers = [number for number, uidl in (line.decode().split(" ", 1) for line in lines) if uidl in uidls]
        if len(numbers) != len(uidls):
            raise OSError(f"{host.role}'s POP3 lists {len(numbers)} of the {len(uidls)} messages to delete")
        for number in numbers:
            pop.dele(int(number))
    finally:
        pop.quit()  # the deletions take effect at QUIT (RFC 1939's UPDATE state)


def _create_with_parents(imap, imap_name, folder: str) -> None:
    """CREATE the folder and each level above it that does not exist yet (a server may not make
    them itself, and the scenario lists a folder's parents only when they hold mail)."""
    levels = folder.split("/")
    for depth in range(1, len(levels) + 1):
        name = imap_name("/".join(levels[:depth]))
        if not imap.folder_exists(name):
            imap.create_folder(name)
