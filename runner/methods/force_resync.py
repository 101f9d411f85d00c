"""Rebuild the indexes on new after the rsync copy (seed 003): `doveadm force-resync -A '*'`.
The guide runs it before starting Dovecot, but -A lists users through Dovecot's auth service,
so here it runs once Dovecot is up again (the guide's readers who hit "userdb list: User
listing returned failure" met exactly this)."""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import ForceResync
from . import executes
from .context import DOVEADM_EXIT_MEANINGS, MigrationContext, StepResult


@executes(ForceResync)
def run(step: ForceResync, context: MigrationContext) -> list[StepResult]:
    return [context.run(context.lab["new"], Command.of("doveadm", "force-resync", "-A", "*"), DOVEADM_EXIT_MEANINGS)]
