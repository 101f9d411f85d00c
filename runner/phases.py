"""The rehearsal, as Molecule's sequence: create -> seed -> baseline -> converge ->
idempotence -> side_effect -> verify -> destroy. Each phase is one function; `rehearse` runs
them in order and always destroys the lab unless asked to keep it."""

from __future__ import annotations

import secrets
import smtplib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lab.lab import HostConfig, Lab
from runner.compare import Finding, compare
from runner.migrate.base import MigrationContext, StepResult
from runner.migrate.cutover import compose_message, wait_for_delivery
from runner.scenario import Scenario
from runner.seed import seed_host
from runner.snapshot import snapshot_host
from runner.state import Arrival, HostState

class Progress:
    """Where phases report what they do; the CLI prints it, tests may collect it."""

    def __init__(self, say: Callable[[str], None] = lambda _: None) -> None:
        self.say = say
        self.timings: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.say(f"[bold]{name}[/bold]")
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(time.monotonic() - started, 2)


@dataclass
class Rehearsal:
    scenario: Scenario
    lab_id: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    old: HostState | None = None
    new: HostState | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    kept: Lab | None = None

    @property
    def passed(self) -> bool:
        return all(step.ok for step in self.steps) and not any(not f.tolerated for f in self.findings)


def rehearse(scenario: Scenario, progress: Progress, keep: bool = False) -> Rehearsal:
    result = Rehearsal(scenario=scenario)
    lab = Lab({role: HostConfig(**spec.model_dump()) for role, spec in scenario.hosts.items()}, progress.say)
    result.lab_id = lab.id
    try:
        with progress.phase("create"):
            lab.create()
        with progress.phase("seed"):
            result.passwords = {user.address: secrets.token_urlsafe(12) for user in scenario.users}
            written = seed_host(lab["old"], scenario, result.passwords, progress.say)
            progress.say(f"{written} messages written on old")
        with progress.phase("baseline"):
            result.old = snapshot_host(lab["old"], result.passwords, progress.say)
        context = MigrationContext(lab, scenario, result.passwords, progress.say)
        with progress.phase("converge"):
            result.steps += converge(scenario, context)
        if scenario.idempotence and all(step.ok for step in result.steps):
            with progress.phase("idempotence"):
                result.steps += converge(scenario, context, idempotence=True)
        if scenario.expect.smoke_delivery:
            with progress.phase("side_effect"):
                first = scenario.users[0].address
                result.arrivals.append(smoke_delivery(lab, first, result.passwords[first], progress.say))
        result.arrivals += context.arrivals
        with progress.phase("verify"):
            if any(step.changes_old for step in scenario.steps):
                progress.say("old changed during the migration: new must match old as it is now")
                result.old = snapshot_host(lab["old"], result.passwords, progress.say)
            result.new = snapshot_host(lab["new"], result.passwords, progress.say)
            result.findings = compare(result.old, result.new, scenario.expect, result.arrivals)
    finally:
        if keep:
            result.kept = lab
        else:
            with progress.phase("destroy"):
                lab.destroy()
        result.timings = progress.timings
    return result


def converge(scenario: Scenario, context: MigrationContext, idempotence: bool = False) -> list[StepResult]:
    results: list[StepResult] = []
    for step in scenario.steps:
        if idempotence and not step.rerun_in_idempotence:
            continue
        context.say(("again: " if idempotence else "") + step.describe())
        outcome = step.run(context)
        if idempotence:
            outcome = [r.model_copy(update={"step": f"idempotence: {r.step}"}) for r in outcome]
        results += outcome
        if not all(r.ok for r in outcome):
            break  # later steps build on this one
    return results


def smoke_delivery(lab: Lab, address: str, password: str, say: Callable[[str], None]) -> Arrival:
    """Send a message to `address` over SMTP on new and wait until LMTP put it in INBOX."""
    new = lab["new"]
    message_id = f"<smoke.{lab.id}.{secrets.token_hex(4)}@maillab.invalid>"
    say(f"SMTP to new for {address}, waiting for LMTP delivery")
    try:
        with smtplib.SMTP("127.0.0.1", new.port("smtp"), timeout=30) as smtp:
            smtp.send_message(compose_message(address, message_id, "sent to the new server after the migration"))
    except (smtplib.SMTPException, OSError) as error:
        say(f"new refused the smoke message: {error}")
        return Arrival(address, message_id)
    if not wait_for_delivery(new, {address: password}, {address: [message_id]}):
        say("delivered to INBOX")
    return Arrival(address, message_id)
