"""Copy the user list to the new server before any mail moves.

sql: `mysqldump mailserver` on old, `mysql mailserver` on new (the ISPmail guide);
passwd-file: copy /etc/dovecot/users (the doveadm walkthrough, seed 000).
"""

from __future__ import annotations

from typing import Literal

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command
from runner.migrate.mysqldump import dump_and_load

EXIT_MEANINGS = {0: "success"}


class CopyUserDb(MigrationStep):
    method: Literal["copy_userdb"]

    def problem_with(self, scenario) -> str | None:
        stores = {host.user_store for host in scenario.hosts.values()}
        if len(stores) != 1:
            return "copy_userdb needs the same user store (sql or passwd-file) on old and new"
        return None

    def describe(self) -> str:
        return "copy the user list from old to new"

    def run(self, context: MigrationContext) -> list[StepResult]:
        old, new = context.lab["old"], context.lab["new"]
        if old.config.user_store == "sql":
            return dump_and_load(context, "mailserver")
        new.put_file("/etc/dovecot/users", old.read_file("/etc/dovecot/users"), mode=0o640)
        result = run_command(new, "copy /etc/dovecot/users to new",
                             "chgrp dovecot /etc/dovecot/users && maillab-postfix-maps", EXIT_MEANINGS)
        if result.ok:
            for user in context.scenario.users:
                new.wait_for_user(user.address)
        return [result]
