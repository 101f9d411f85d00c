"""Copy /etc/letsencrypt from old to new during a live cutover (the Certificates step), then
reload Dovecot and Postfix so that they serve the copied certificate."""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Certificates
from . import executes
from .context import RELOAD_POSTFIX, RSYNC_EXIT_MEANINGS, MigrationContext, StepResult


@executes(Certificates)
def run(step: Certificates, context: MigrationContext) -> list[StepResult]:
    new = context.lab["new"]
    # --checksum: the lab writes both hosts' keys in the same second and at the same size, which
    # rsync's quick check (size and time) would take for "unchanged"
    copy = Command.of("rsync", "-a", "--checksum", "-e", "ssh -o BatchMode=yes", "root@old:/etc/letsencrypt/",
                      "/etc/letsencrypt/")
    results = [context.run(new, copy, RSYNC_EXIT_MEANINGS, label="rsync -a root@old:/etc/letsencrypt/ (on new)")]
    if results[-1].ok:  # the services read the certificate when they (re)load their configuration
        reload = Command.script("doveadm reload && " + RELOAD_POSTFIX, display="doveadm reload; postfix reload")
        results.append(context.run(new, reload, {0: "success"}, label="reload Dovecot and Postfix (on new)"))
    return results
