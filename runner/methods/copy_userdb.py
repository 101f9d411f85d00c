"""Copy the user list to the new server before any mail moves (the CopyUserDb step).

sql: `mysqldump mailserver` on old, `mysql mailserver` on new (the ISPmail guide);
passwd-file: copy /etc/dovecot/users (the doveadm walkthrough, seed 000); the admin's own store
(lab/stores): its own tool's dump on old, loaded on new (mysqldump/mysql, pg_dump/psql, ...).
"""

from __future__ import annotations

import time

from ...lab.containers import PASSWD_FILE
from ...lab.stores import store_of
from ..schema.steps import CopyUserDb
from . import executes
from .context import MigrationContext, StepResult
from .mysqldump import dump_and_load


@executes(CopyUserDb)
def run(step: CopyUserDb, context: MigrationContext) -> list[StepResult]:
    old, new = context.lab["old"], context.lab["new"]
    if spec := old.spec.own_store:
        started = time.monotonic()
        store = store_of(spec)
        store.load(new, new.spec.own_store, store.dump(old, spec))
        new.wait_for_users([user.address for user in context.scenario.users])
        return [context.done(f"copy the {spec.kind} store {spec.database} to new", "new", True, "success", started)]
    if old.spec.user_store == "sql":
        return dump_and_load(context, "mailserver")
    started = time.monotonic()
    new.install_users_file(old.read_file(PASSWD_FILE))
    new.wait_for_users([user.address for user in context.scenario.users])
    return [context.done(f"copy {PASSWD_FILE} to new", "new", True, "success", started)]
