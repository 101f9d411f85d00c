"""What every executor gets (the lab, the scenario, the users' passwords) and what it returns:
one StepResult per command, with its exit code's meaning and its output, secrets masked.
Also what several methods share (exit codes' meanings, the Postfix reload) and the records
that steps leave in the context for the rehearsal: Arrival, Event, Strike."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

from ...lab.command import Command, mask
from ..schema.steps import COMMAND_TIMEOUT

if TYPE_CHECKING:
    from ...lab.containers import LabContainer
    from ...lab.lab import Lab
    from ..schema.scenario import Scenario

log = logging.getLogger(__name__)
OUTPUT_KEPT = 2000  # characters of a command's output kept for the report
# exit codes of a command that a signal ended (128 + N), whatever the tool
ERROR_LINE = re.compile(r"(?i)\b(error|fatal|panic|failed)\b|no space left|quota")
SIGNALLED = {137: "killed (SIGKILL)", 143: "terminated (SIGTERM)", 129: "hung up (SIGHUP)"}
# doveadm's exit codes (Dovecot's doveadm error codes, sysexits.h).
DOVEADM_EXIT_MEANINGS = {
    0: "success",
    1: "failed",
    2: "mailbox changes caused a desync: run it again until it exits 0",
    64: "usage error",
    65: "data error (e.g. the target INBOX exists with another GUID: never touch targets before the first sync; "
        "Dovecot 2.3.15-2.3.19 makes one itself in an INBOX. namespace: docs/own-server.md)",
    67: "unknown user",
    68: "not found (mailbox, namespace or host)",
    73: "cannot create: out of quota",
    75: "temporary failure (lock timeout, disconnected from remote): retry",
    76: "remote protocol error",
    77: "permission denied (wrong doveadm_password or authentication)",
    78: "configuration error",
}
RSYNC_EXIT_MEANINGS = {
    0: "success",
    12: "error in the rsync protocol data stream (ssh refused?)",
    23: "partial transfer due to error",
    24: "partial transfer: source files vanished (normal for a hot copy)",
    255: "ssh failed to connect or authenticate",
}
MYSQL_EXIT_MEANINGS = {0: "success", 1: "SQL error", 2: "cannot connect to MariaDB"}
# one address per line: doveadm's -F users file, and a kept lab's MAILLAB_USERS_FILE
ADDRESSES_FILE = "/root/maillab-users"
# "address password" per line (0600): what an admin collects from users of a server without a
# master user (Gmail's app passwords), a kept lab's MAILLAB_PASSWORDS_FILE
PASSWORDS_FILE = "/root/maillab-passwords"


def passwords_text(passwords: dict[str, str]) -> bytes:
    """A passwords file's content (the lab's passwords: letters and digits, no space)."""
    return "".join(f"{address} {password}\n" for address, password in passwords.items()).encode()


# a reload when Postfix runs (a stopped Postfix reads its configuration when started)
RELOAD_POSTFIX = "if postfix status >/dev/null 2>&1; then postfix reload; fi"


@dataclass(frozen=True)
class Arrival:
    """A message sent to the new server during the migration: it must be there."""

    user: str
    message_id: str


@dataclass(frozen=True)
class FlagChange:
    """Flags a step (change_flags) changed on old: on these UIDs of a user's folder."""

    user: str
    folder: str
    uids: tuple[int, ...]
    add: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A step of the cutover on the timeline (e.g. "MX switched", "Dovecot stopped on old")."""

    at: float
    label: str


@dataclass
class Strike:
    """What one fault did: when it struck (seconds into its step; None: the step ended
    first), on which host, what it did, and what the server logged after it."""

    fault: str
    when: str
    host: str
    at: float | None = None
    detail: str = ""
    log: list[str] = field(default_factory=list)
    clock: float = field(default=0.0, repr=False)  # the wall clock when it struck (for the log)
    # what the fault left (a full disk, a low quota), undone before the run resumes and once
    # the steps are done, as the admin would before trying again or going live
    heal: Callable[[], None] | None = field(default=None, repr=False)

    def one_line(self) -> str:
        if self.at is None:
            return f"{self.fault} ({self.when}): did not strike, the step ended first"
        logged = f"; {self.host} logged: {' | '.join(self.log)}" if self.log else ""
        return f"{self.fault} ({self.when}), at {self.at:.1f} s: {self.detail}{logged}"


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
            ok_codes: tuple[int, ...] = (0,), summary: Callable[[str], str | None] | None = None,
            **options) -> StepResult:
        """Run one command of a step on `host`; the result names what its exit code means, or
        what `summary` finds in its whole output (the report keeps only the output's end).
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
            meaning=mask((summary and summary(result.output)) or "", (*command.secrets, *self.lab.secrets))
            or meanings.get(result.exit_code) or SIGNALLED.get(result.exit_code, "failed"),
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
