"""The executors of the migration steps, registered against their spec in one table.

Adding a method: its spec in runner/steps.py (added to STEP_TYPES), one module here with a
`run(step, context)`, and one entry in EXECUTORS; a golden row in tests/unit/test_methods.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..schema import steps
from . import (
    copy_userdb, dns, doveadm_backup, imapc, imapsync, mbsync, mysqldump, rsync, script, send_mail, ssh_root_key,
)
from .context import MigrationContext, StepResult

log = logging.getLogger(__name__)

EXECUTORS: dict[type[steps.Step], Callable[..., list[StepResult]]] = {
    steps.CopyUserDb: copy_userdb.run,
    steps.DoveadmBackup: doveadm_backup.run,
    steps.Imapc: imapc.run,
    steps.Mbsync: mbsync.run,
    steps.Imapsync: imapsync.run,
    steps.Mysqldump: mysqldump.run_mysqldump,
    steps.Sql: mysqldump.run_sql,
    steps.Rsync: rsync.run_rsync,
    steps.ForceResync: rsync.run_force_resync,
    steps.SshRootKey: ssh_root_key.run,
    steps.Script: script.run,
    steps.SendMail: send_mail.run_send_mail,
    steps.ChangeFlags: send_mail.run_change_flags,
    steps.ServiceAction: send_mail.run_service,
    steps.Dns: dns.run_dns,
    steps.Postconf: dns.run_postconf,
    steps.Queue: dns.run_queue,
    steps.Certificates: dns.run_certificates,
    steps.Wait: dns.run_wait,
}


def execute(step: steps.Step, context: MigrationContext) -> list[StepResult]:
    """Run one step; each of its commands may take the step's timeout."""
    context.timeout, context.describing = step.timeout, step.describe()
    return EXECUTORS[type(step)](step, context)
