"""Copy /var/vmail with rsync, the ISPmail way (seed 003), and rebuild the indexes after.

rsync: runs on new and pulls `root@old:/var/vmail/` over ssh (an ssh_root_key step with
`client: new` comes first). `hot` copies while old keeps running; `cold` adds --delete and is
meant for when Dovecot is stopped on both. `exclude` passes rsync patterns: a negative control
leaves out dovecot-uidlist, the file that holds every UID and the UIDVALIDITY.
force_resync: `doveadm force-resync -A '*'` on new. The guide runs it before starting Dovecot,
but -A lists users through Dovecot's auth service, so here it runs once Dovecot is up again
(the guide's readers who hit "userdb list: User listing returned failure" met exactly this).
"""

from __future__ import annotations

import shlex
from typing import Literal

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command
from runner.migrate.doveadm_backup import EXIT_MEANINGS as DOVEADM_EXIT_MEANINGS

RSYNC_EXIT_MEANINGS = {
    0: "success",
    12: "error in the rsync protocol data stream (ssh refused?)",
    23: "partial transfer due to error",
    24: "partial transfer: source files vanished (normal for a hot copy)",
    255: "ssh failed to connect or authenticate",
}


class Rsync(MigrationStep):
    method: Literal["rsync"]
    phase: Literal["hot", "cold"] = "cold"
    exclude: list[str] = []

    def describe(self) -> str:
        return f"rsync /var/vmail from old ({self.phase}{', --delete' if self.phase == 'cold' else ''}), on new"

    def run(self, context: MigrationContext) -> list[StepResult]:
        argv = ["rsync", "-a", "--stats", *(["--delete"] if self.phase == "cold" else []),
                *(f"--exclude={pattern}" for pattern in self.exclude),
                "-e", "ssh -o BatchMode=yes", "root@old:/var/vmail/", "/var/vmail/"]
        command = shlex.join(argv)
        context.say(f"{command} (on new)")
        result = run_command(context.lab["new"], f"{command} (on new)", command, RSYNC_EXIT_MEANINGS)
        if self.phase == "hot" and result.exit_code == 24:  # files vanished while old was live
            result = result.model_copy(update={"ok": True})
        return [result]


class ForceResync(MigrationStep):
    method: Literal["force_resync"]

    def describe(self) -> str:
        return "doveadm force-resync -A '*' (on new)"

    def run(self, context: MigrationContext) -> list[StepResult]:
        command = "doveadm force-resync -A '*'"
        context.say(f"{command} (on new)")
        return [run_command(context.lab["new"], f"{command} (on new)", command, DOVEADM_EXIT_MEANINGS)]
