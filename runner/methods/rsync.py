"""Copy /var/vmail with rsync, the ISPmail way (seed 003).

Rsync: runs on new and pulls `root@old:/var/vmail/` over ssh (an ssh_root_key step with
`client: new` comes first). `hot` copies while old keeps running; `cold` adds --delete and is
meant for when Dovecot is stopped on both. `exclude` passes rsync patterns: a negative control
leaves out dovecot-uidlist, the file that holds every UID and the UIDVALIDITY.
Then the indexes are rebuilt: the force_resync method.
"""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Rsync
from . import executes
from .context import RSYNC_EXIT_MEANINGS, MigrationContext, StepResult


@executes(Rsync)
def run(step: Rsync, context: MigrationContext) -> list[StepResult]:
    command = Command.of("rsync", "-a", "--stats", *(["--delete"] if step.phase == "cold" else []),
                         *(f"--exclude={pattern}" for pattern in step.exclude),
                         "-e", "ssh -o BatchMode=yes", "root@old:/var/vmail/", "/var/vmail/")
    # files that vanish while old is live are what a hot copy expects
    return [context.run(context.lab["new"], command, RSYNC_EXIT_MEANINGS, ok_codes=(0, 24) if step.phase == "hot" else (0,))]
