"""What every executor gets (the lab, the scenario, the users' passwords) and what it returns:
one StepResult per command, with its exit code's meaning and its output, secrets masked."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

from maillab.lab.command import Command, mask
from maillab.runner.ledger import Event
from maillab.runner.state import Arrival, FlagChange
from maillab.runner.steps import COMMAND_TIMEOUT

if TYPE_CHECKING:
    from maillab.lab.containers import LabContainer
    from maillab.lab.lab import Lab
    from maillab.runner.inject import Strike
    from maillab.runner.scenario import Scenario

log = logging.getLogger(__name__)
OUTPUT_KEPT = 2000  # characters of a command's output kept for the report
# exit codes of a command that a signal ended (128 + N), whatever the tool
ERROR_LINE = re.compile(r"(?i)\b(error|fatal|panic|failed)\b|no space left|quota")
SIGNALLED = {137: "killed (SIGKILL)", 143: "terminated (SIGTERM)", 129: "hung up (SIGHUP)"}


class StepResult(BaseModel):
    step: str
    host: str
    command: str
    exit_code: int | None  # None: the step did not finish (a lab error ended it)
    meaning: str
    ok: bool
    seconds: float
    output: str = ""
    show_output: bool = False  # print the output's tail on the terminal (the user's own script)
    resumed: bool = False  # it failed under a fault, and the scenario's resume ran it again
    first_error: str = ""  # a failed command's first error line (its output is kept from the end)

    @property
    def exit_shown(self) -> str:
        return "—" if self.exit_code is None else str(self.exit_code)


def first_error(output: str) -> str:
    """The first line of `output` that reports an error (what the admin would look for)."""
    return next((line.strip()[:300] for line in output.splitlines() if ERROR_LINE.search(line)), "")


@dataclass
class MigrationContext:
    lab: Lab
    scenario: Scenario
    passwords: dict[str, str]
    # Messages steps sent to the new server; the verdict expects each of them there.
    arrivals: list[Arrival] = field(default_factory=list)
    # Flags steps changed on old: the source check expects them changed there.
    old_flags: list[FlagChange] = field(default_factory=list)
    # Secrets steps make up (a master user's password...), stable for the whole rehearsal
    # so that the idempotence rerun uses the same ones.
    made_secrets: dict[str, str] = field(default_factory=dict)
    timeout: float = COMMAND_TIMEOUT  # of the step being run
    describing: str = ""  # the step being run, as the progress log already named it
    # when the run's clock started (a live cutover: the traffic), and each step's start on it
    origin: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    sleep: Callable[[float], None] = time.sleep  # a wait step's clock (the golden tests record it)
    # what the faults did (and what they left to undo before a resume)
    strikes: list[Strike] = field(default_factory=list)
    # the command of a step running now: (host, command, timeout), for a fault that kills it
    running: tuple[LabContainer, Command, float] | None = None
    # when each command ran, (start, end) in seconds on the run's clock: the interrupt sweep
    # spreads its points over this running time, not over the gaps between commands
    ran: list[tuple[float, float]] = field(default_factory=list)

    def secret(self, name: str) -> str:
        if name not in self.made_secrets:
            self.made_secrets[name] = self.lab.new_secret(15)
        return self.made_secrets[name]

    def run(self, host: LabContainer, command: Command, meanings: dict[int, str], *, label: str | None = None,
            ok_codes: tuple[int, ...] = (0,), **options) -> StepResult:
        """Run one command of a step on `host`; the result names what its exit code means.
        Every secret of the lab is masked in what the result shows."""
        shown = command.shown(self.lab.secrets)
        step = label or f"{shown} (on {host.role})"
        log.log(logging.DEBUG if step == self.describing else logging.INFO, "%s", step)
        started = time.monotonic()
        self.running = (host, command, self.timeout)
        try:
            result = host.run(command, timeout=self.timeout, **options)
        finally:
            self.running = None
            self.ran.append((round(started - self.origin, 2), round(time.monotonic() - self.origin, 2)))
        return StepResult(
            step=step,
            host=host.role,
            command=shown,
            exit_code=result.exit_code,
            meaning=meanings.get(result.exit_code) or SIGNALLED.get(result.exit_code, "failed"),
            ok=result.exit_code in ok_codes,
            seconds=round(time.monotonic() - started, 2),
            output=mask(result.output, (*command.secrets, *self.lab.secrets))[-OUTPUT_KEPT:],
            first_error="" if result.exit_code in ok_codes else mask(first_error(result.output),
                                                                     (*command.secrets, *self.lab.secrets)),
        )

    def done(self, step: str, host: str, ok: bool, meaning: str, started: float, output: str = "") -> StepResult:
        """The result of a step that ran no command of its own (SMTP, IMAP, supervisorctl)."""
        return StepResult(step=step, host=host, command=step, exit_code=0 if ok else 1, meaning=meaning, ok=ok,
                          seconds=round(time.monotonic() - started, 2), output=mask(output, self.lab.secrets))
