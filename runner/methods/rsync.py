"""Copy /var/vmail with rsync, the ISPmail way (seed 003), and rebuild the indexes after.

Rsync: runs on new and pulls `root@old:/var/vmail/` over ssh (an ssh_root_key step with
`client: new` comes first). `hot` copies while old keeps running; `cold` adds --delete and is
meant for when Dovecot is stopped on both. `exclude` passes rsync patterns: a negative control
leaves out dovecot-uidlist, the file that holds every UID and the UIDVALIDITY.
ForceResync: `doveadm force-resync -A '*'` on new. The guide runs it before starting Dovecot,
but -A lists users through Dovecot's auth service, so here it runs once Dovecot is up again
(the guide's readers who hit "userdb list: User listing returned failure" met exactly this).
"""

from __future__ import annotations

from ...lab.command import Command
from .context import MigrationContext, StepResult
from .doveadm_backup import EXIT_MEANINGS as DOVEADM_EXIT_MEANINGS
from ..schema.steps import ForceResync, Rsync

RSYNC_EXIT_MEANINGS = {
    0: "success",
    12: "error in the rsync protocol data stream (ssh refused?)",
    23: "partial transfer due to error",
    24: "partial transfer: source files vanished (normal for a hot copy)",
    255: "ssh failed to connect or authenticate",
}


def run_rsync(step: Rsync, context: MigrationContext) -> list[StepResult]:
    command = Command.of("rsync", "-a", "--stats", *(["--delete"] if step.phase == "cold" else []),
                         *(f"--exclude={pattern}" for pattern in step.exclude),
                         "-e", "ssh -o BatchMode=yes", "root@old:/var/vmail/", "/var/vmail/")
    # files that vanish while old is live are what a hot copy expects
    return [context.run(context.lab["new"], command, RSYNC_EXIT_MEANINGS, ok_codes=(0, 24) if step.phase == "hot" else (0,))]


def run_force_resync(step: ForceResync, context: MigrationContext) -> list[StepResult]:
    return [context.run(context.lab["new"], Command.of("doveadm", "force-resync", "-A", "*"), DOVEADM_EXIT_MEANINGS)]
