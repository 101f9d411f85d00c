"""`postconf -e` on a host or the sender during a live cutover (the Postconf step, e.g.
soft_bounce), then a reload when Postfix runs."""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Postconf
from . import executes
from .context import RELOAD_POSTFIX, MigrationContext, StepResult

POSTCONF = 'postconf -e "$@" && ' + RELOAD_POSTFIX


@executes(Postconf)
def run(step: Postconf, context: MigrationContext) -> list[StepResult]:
    host = context.lab.sender if step.host == "sender" else context.lab[step.host]
    settings = [f"{name}={value}" for name, value in step.settings.items()]
    return [context.run(host, Command.script(POSTCONF, *settings, display=f"postconf -e {' '.join(settings)}"),
                        {0: "success", 1: "postconf failed"}, label=step.describe())]
