"""Switching a DNS record during a live cutover (seed 003; the Dns step): an MX or the A
record of `mail.<domain>`, with a TTL in the guide's seconds, scaled by `cutover.day`."""

from __future__ import annotations

import time

from ..schema.steps import Dns
from . import executes
from .context import MigrationContext, StepResult


@executes(Dns)
def run(step: Dns, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    lab, cutover = context.lab, context.scenario.cutover
    ttl = cutover.lab_seconds(step.ttl)
    for domain in [step.domain] if step.domain else context.scenario.domains:
        if step.mx is not None:
            exchanges = [f"{10 * (rank + 1)} {role}.{domain}." for rank, role in enumerate(step.mx)]
            lab.dns.update(domain, f"{domain}.", "MX", exchanges, ttl)
        else:
            lab.dns.update(domain, f"mail.{domain}.", "A", [lab[step.a].address()], ttl)
    return [context.done(step.describe(), "dns", True, f"done (TTL {ttl} s in the lab)", started)]
