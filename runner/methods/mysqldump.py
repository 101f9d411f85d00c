"""Databases the ISPmail way (seed 003): `mysqldump DB > DB.sql` on old, the file copied over,
`mysql DB < DB.sql` on new (the Mysqldump step)."""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Mysqldump
from . import executes
from .context import MYSQL_EXIT_MEANINGS, MigrationContext, StepResult


def dump_and_load(context: MigrationContext, database: str) -> list[StepResult]:
    old, new = context.lab["old"], context.lab["new"]
    dump_file = f"/root/{database}.sql"
    dump = context.run(old, Command.of("mysqldump", f"--result-file={dump_file}", database), MYSQL_EXIT_MEANINGS,
                       label=f"mysqldump {database} > {database}.sql (on old)")
    if not dump.ok:
        return [dump]
    new.put_file(dump_file, old.read_file(dump_file), mode=0o600)
    load = context.run(new, Command.script('mysql "$1" < "$2"', database, dump_file), MYSQL_EXIT_MEANINGS,
                       label=f"mysql {database} < {database}.sql (on new)")
    return [dump, load]


@executes(Mysqldump)
def run(step: Mysqldump, context: MigrationContext) -> list[StepResult]:
    results: list[StepResult] = []
    for database in step.databases:
        results += dump_and_load(context, database)
        if not results[-1].ok:
            break
    return results
