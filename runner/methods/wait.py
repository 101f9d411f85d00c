"""Let guide time pass (the Wait step), in the guide's seconds scaled by `cutover.day`."""

from __future__ import annotations

import time

from ..schema.steps import Wait
from . import executes
from .context import MigrationContext, StepResult


@executes(Wait)
def run(step: Wait, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    seconds = context.scenario.cutover.lab_seconds(step.seconds)
    context.sleep(seconds)
    return [context.done(step.describe(), "lab", True, f"waited {seconds} s in the lab", started)]
