"""A Postfix queue during a live cutover (the Queue step): flush it, or wait until it drains."""

from __future__ import annotations

import time

from ...lab.internet import drain_postfix_queue, flush_postfix_queue
from ..schema.steps import Queue
from . import executes
from .context import MigrationContext, StepResult


@executes(Queue)
def run(step: Queue, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    machine = context.lab.sender if step.host == "sender" else context.lab[step.host]
    if step.action == "flush":
        flush_postfix_queue(machine)
        return [context.done(step.describe(), step.host, True, "flushed", started)]
    if stuck := drain_postfix_queue(machine, step.within):
        reasons = sorted({r.get("delay_reason", "") for m in stuck for r in m.get("recipients", [])})
        # what an admin reads in mailq: not a failure of the step, the ledger judges the mail
        return [context.done(step.describe(), step.host, True, f"{len(stuck)} messages still queued", started,
                             "\n".join(reasons[:10]))]
    return [context.done(step.describe(), step.host, True, f"empty after {time.monotonic() - started:.1f} s", started)]
