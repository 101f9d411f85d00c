"""Databases the ISPmail way (seed 003): `mysqldump DB > DB.sql` on old, the file copied
over, `mysql DB < DB.sql` on new; and a plain SQL statement on one host, for the guide's
`UPDATE users SET mail_host='new.mail.server'` in Roundcube's database."""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import Field

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command

EXIT_MEANINGS = {0: "success", 1: "SQL error", 2: "cannot connect to MariaDB"}
DATABASES = Literal["mailserver", "roundcube"]


def dump_and_load(context: MigrationContext, database: str) -> list[StepResult]:
    old, new = context.lab["old"], context.lab["new"]
    dump = run_command(old, f"mysqldump {database} (on old)",
                       f"mysqldump {database} > /root/{database}.sql", EXIT_MEANINGS)
    if not dump.ok:
        return [dump]
    new.put_file(f"/root/{database}.sql", old.read_file(f"/root/{database}.sql"), mode=0o600)
    load = run_command(new, f"mysql {database} < {database}.sql (on new)",
                       f"mysql {database} < /root/{database}.sql", EXIT_MEANINGS)
    return [dump, load]


class Mysqldump(MigrationStep):
    method: Literal["mysqldump"]
    databases: list[DATABASES] = Field(["mailserver", "roundcube"], min_length=1)

    def describe(self) -> str:
        return f"mysqldump | mysql: {', '.join(self.databases)}"

    def run(self, context: MigrationContext) -> list[StepResult]:
        results: list[StepResult] = []
        for database in self.databases:
            context.say(f"mysqldump {database} on old, mysql {database} on new")
            results += dump_and_load(context, database)
            if not results[-1].ok:
                break
        return results


class Sql(MigrationStep):
    method: Literal["sql"]
    host: Literal["old", "new"] = "new"
    database: DATABASES
    statement: str = Field(min_length=1)

    def describe(self) -> str:
        return f"{self.statement} ({self.database} on {self.host})"

    def run(self, context: MigrationContext) -> list[StepResult]:
        command = f"mysql {self.database} -e {shlex.quote(self.statement)}"
        context.say(f"{command} (on {self.host})")
        return [run_command(context.lab[self.host], f"{self.describe()}", command, EXIT_MEANINGS)]
