"""What every migration method shares: its step schema base, its context and its result."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from runner.state import Arrival

if TYPE_CHECKING:
    from lab.host import MailHostContainer
    from lab.lab import Lab
    from runner.scenario import Scenario


@dataclass
class MigrationContext:
    lab: Lab
    scenario: Scenario
    passwords: dict[str, str]
    say: Callable[[str], None]
    # Messages steps sent to the new server; the verify phase expects each of them there.
    arrivals: list[Arrival] = field(default_factory=list)
    # Secrets steps make up (a master user's password...), stable for the whole rehearsal
    # so that the idempotence rerun uses the same ones.
    secrets: dict[str, str] = field(default_factory=dict)

    def secret(self, name: str) -> str:
        return self.secrets.setdefault(name, secrets.token_urlsafe(15))


class StepResult(BaseModel):
    step: str
    host: str
    command: str
    exit_code: int
    meaning: str
    ok: bool
    seconds: float
    output: str = ""
    show_output: bool = False  # print the output's tail on the terminal (the user's own script)


class MigrationStep(BaseModel):
    """A step of a scenario's migration. Subclasses set `method` to a Literal tag."""

    model_config = ConfigDict(extra="forbid")
    # Whether running the step a second time must leave the new server unchanged
    # (Molecule's idempotence phase reruns these).
    rerun_in_idempotence: bool = True

    @property
    def changes_old(self) -> bool:
        """Whether the step changes the old server's mail (then new must match old as it is
        after the migration, not as it was before)."""
        return False

    def problem_with(self, scenario: Scenario) -> str | None:
        """A reason this step cannot run in `scenario`, or None."""
        return None

    def describe(self) -> str:
        raise NotImplementedError

    def run(self, context: MigrationContext) -> list[StepResult]:
        raise NotImplementedError


def run_command(host: MailHostContainer, step: str, command: str, meanings: dict[int, str],
                secrets: tuple[str, ...] = ()) -> StepResult:
    """Run `command` on `host` and describe its exit code; secrets are masked in the report."""
    started = time.monotonic()
    result = host.run(command)
    shown, output = command, result.output
    for secret in secrets:
        shown, output = shown.replace(secret, "***"), output.replace(secret, "***")
    return StepResult(
        step=step,
        host=host.role,
        command=shown,
        exit_code=result.exit_code,
        meaning=meanings.get(result.exit_code, "failed"),
        ok=result.exit_code == 0,
        seconds=round(time.monotonic() - started, 2),
        output=output[-2000:],
    )
