"""mbsync (isync) copying IMAP to IMAP, run on new as a client of both servers.

A client-side copy: it APPENDs every message, so the new server hands out its own UIDs and
UIDVALIDITY; subscriptions and Sieve scripts do not travel. The negative control.
"""

from __future__ import annotations

from typing import Literal

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command

EXIT_MEANINGS = {0: "success", 1: "failed"}
CONFIG = "/root/maillab-mbsyncrc"
STATE = "/root/maillab-mbsync"  # one folder per channel: state files are named by mailbox


class Mbsync(MigrationStep):
    method: Literal["mbsync"]

    def describe(self) -> str:
        return "mbsync IMAP -> IMAP (isync), on new"

    def run(self, context: MigrationContext) -> list[StepResult]:
        host = context.lab["new"]
        version = host.run(["mbsync", "--version"]).output.split()[-1]
        # isync 1.4 renamed Master/Slave to Far/Near.
        far, near = ("Far", "Near") if _version(version) >= (1, 4) else ("Master", "Slave")
        host.put_file(CONFIG, self.config(context.passwords, far, near).encode(), mode=0o600)
        host.run_checked(f"mkdir -p {' '.join(f'{STATE}/user{n}' for n in range(len(context.passwords)))}",
                         "preparing mbsync state")
        context.say(f"mbsync {version} -a (on new)")
        return [run_command(host, "mbsync -a (on new)", f"mbsync -c {CONFIG} -a", EXIT_MEANINGS,
                            secrets=tuple(context.passwords.values()))]

    @staticmethod
    def config(passwords: dict[str, str], far: str, near: str) -> str:
        blocks = []
        for n, (address, password) in enumerate(passwords.items()):
            for side, host in (("old", "old"), ("new", "localhost")):
                blocks.append(
                    f"IMAPAccount {side}{n}\nHost {host}\nPort 143\nUser {address}\nPass {password}\n"
                    f"SSLType None\nAuthMechs LOGIN\n\nIMAPStore {side}{n}\nAccount {side}{n}\n"
                )
            blocks.append(
                f"Channel user{n}\n{far} :old{n}:\n{near} :new{n}:\nPatterns *\nCreate {near}\n"
                f"Sync Pull\nSyncState {STATE}/user{n}/\nCopyArrivalDate yes\n"
            )
        return "\n".join(blocks)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())
