"""Users changing flags on a server during a cutover, over IMAP (the ChangeFlags step)."""

from __future__ import annotations

import time

from ..schema.steps import ChangeFlags
from . import executes
from .context import FlagChange, MigrationContext, StepResult


@executes(ChangeFlags)
def run(step: ChangeFlags, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    for user, password in context.passwords.items():
        with context.lab[step.host].imap(user, password) as imap:
            imap.select_folder(context.lab[step.host].spec.imap_name(step.folder))
            uids = imap.search("ALL")[: step.count]
            if uids and step.add:
                imap.add_flags(uids, step.add)
            if uids and step.remove:
                imap.remove_flags(uids, step.remove)
        if step.host == "old":  # a declared change: the source check expects it (compare.source_damage)
            context.old_flags.append(FlagChange(user, step.folder, tuple(uids), tuple(step.add), tuple(step.remove)))
    return [context.done(step.describe(), step.host, True, "done", started)]
