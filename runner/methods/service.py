"""Stopping or starting a service on a server (the ServiceAction step, method `service`: the
seeds' "stop the old server's mail service")."""

from __future__ import annotations

import time

from ...lab.errors import LabError
from ..schema.steps import ServiceAction
from . import executes
from .context import MigrationContext, StepResult


@executes(ServiceAction)
def run(step: ServiceAction, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    try:
        context.lab[step.host].service(step.service, step.action)
    except LabError as error:
        return [context.done(step.describe(), step.host, False, str(error), started)]
    return [context.done(step.describe(), step.host, True, "done", started)]
