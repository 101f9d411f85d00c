"""mbsync (isync) copying IMAP to IMAP, run on new as a client of both servers (the Mbsync step).

A client-side copy: it APPENDs every message, so the new server hands out its own UIDs and
UIDVALIDITY; subscriptions and Sieve scripts do not travel. The negative control.
"""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Mbsync
from . import executes
from .context import MigrationContext, StepResult

EXIT_MEANINGS = {0: "success", 1: "failed"}
CONFIG = "/root/maillab-mbsyncrc"
STATE = "/root/maillab-mbsync"  # one folder per channel: state files are named by mailbox


@executes(Mbsync)
def run(step: Mbsync, context: MigrationContext) -> list[StepResult]:
    host = context.lab["new"]
    version = host.run_checked(Command.of("mbsync", "--version"), "asking mbsync its version").output.split()[-1]
    # isync 1.4 renamed Master/Slave to Far/Near.
    far, near = ("Far", "Near") if _version(version) >= (1, 4) else ("Master", "Slave")
    host.put_file(CONFIG, config(context.passwords, far, near).encode(), mode=0o600)
    host.run_checked(Command.of("mkdir", "-p", *(f"{STATE}/user{n}" for n in range(len(context.passwords)))),
                     "preparing mbsync's state")
    return [context.run(host, Command.of("mbsync", "-c", CONFIG, "-a"), EXIT_MEANINGS,
                        label=f"mbsync {version} -a (on new)")]


def config(passwords: dict[str, str], far: str, near: str) -> str:
    """mbsyncrc: two accounts and a channel per user. Values are quoted as isync reads them;
    addresses and lab passwords hold no quote or backslash (the schema and the lab see to it)."""
    blocks = []
    for n, (address, password) in enumerate(passwords.items()):
        for side, host in (("old", "old"), ("new", "localhost")):
            blocks.append(
                f'IMAPAccount {side}{n}\nHost {host}\nPort 143\nUser "{address}"\nPass "{password}"\n'
                f"SSLType None\nAuthMechs LOGIN\n\nIMAPStore {side}{n}\nAccount {side}{n}\n"
            )
        blocks.append(
            f"Channel user{n}\n{far} :old{n}:\n{near} :new{n}:\nPatterns *\nCreate {near}\n"
            f"Sync Pull\nSyncState {STATE}/user{n}/\nCopyArrivalDate yes\n"
        )
    return "\n".join(blocks)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())
