"""One SQL statement on one host (the Sql step), for the ISPmail guide's (seed 003)
`UPDATE users SET mail_host='new.mail.server'` in Roundcube's database."""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Sql
from . import executes
from .context import MYSQL_EXIT_MEANINGS, MigrationContext, StepResult


@executes(Sql)
def run(step: Sql, context: MigrationContext) -> list[StepResult]:
    return [context.run(context.lab[step.host], Command.of("mysql", step.database, "-e", step.statement),
                        MYSQL_EXIT_MEANINGS, label=step.describe())]
