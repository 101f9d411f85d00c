"""Seeding a server that is not Dovecot (Courier-IMAP, Cyrus IMAP as old) the way its users'
clients fill it: the users made by the server's own tools, then per user over IMAP each folder
CREATEd, its messages APPENDed with their flags, keywords and INTERNALDATE in delivery order,
the folders SUBSCRIBEd as the scenario says, and the Sieve scripts PUT over ManageSieve where
the server has it. The server writes its own files (UIDs, UIDVALIDITY, its keyword and UID
databases) as it does for real clients: nothing of Dovecot's is assumed on disk.
"""

from __future__ import annotations

import logging

from ..schema.scenario import Scenario, UserSpec
from .messages import folder_messages

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
    written = 0
    with host.imap(user.address, password) as imap:
        for folder in user.folders:
            name = host.spec.imap_name(folder.name)
            if name != "INBOX":
                _create_with_parents(imap, host.spec.imap_name, folder.name)
            for message in folder_messages(seed, user, folder):
                # IMAP carries lines ended by CRLF (RFC 3501); generated mail keeps Maildir's LF
                raw = message.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                imap.append(name, raw, flags=(*message.flags, *message.keywords), msg_time=message.internaldate)
                written += 1
            if folder.subscribed:
                imap.subscribe_folder(name)
    if user.sieve and "ManageSieve" in host.SERVICES:
        with host.managesieve(user.address, password) as client:
            for script, text in user.sieve.scripts.items():
                if not client.putscript(script, text):
                    raise OSError(f"{host.role} refused {user.address}'s Sieve script '{script}': {client.errmsg}")
            if user.sieve.active and not client.setactive(user.sieve.active):
                raise OSError(f"{host.role} did not activate {user.address}'s Sieve script: {client.errmsg}")
    return written


def _create_with_parents(imap, imap_name, folder: str) -> None:
    """CREATE the folder and each level above it that does not exist yet (a server may not make
    them itself, and the scenario lists a folder's parents only when they hold mail)."""
    levels = folder.split("/")
    for depth in range(1, len(levels) + 1):
        name = imap_name("/".join(levels[:depth]))
        if not imap.folder_exists(name):
            imap.create_folder(name)
