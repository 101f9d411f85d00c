"""imapsync, the de-facto IMAP copy tool, as an optional contrast method. It is in no Debian
suite and maillab downloads nothing: the scenario names the imapsync script the user provides
(`script`, relative to the scenario file), and its image is built from that on first use.
It runs on its own machine on the lab network, one run per user, old -> new over plain IMAP.
Like any client-side copy it APPENDs: expect new UIDVALIDITY and UIDs, no Sieve.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal

from pydantic import Field

from lab.images import ensure_imapsync_image
from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command

# imapsync's exit codes (its EX_* constants), the common ones.
EXIT_MEANINGS = {0: "success", 1: "failed", 6: "interrupted", 10: "connection failure", 16: "authentication failure",
                 111: "errors during the transfer", 162: "an imapsync dependency is missing"}


class Imapsync(MigrationStep):
    method: Literal["imapsync"]
    script: str = Field(min_length=1)  # your copy of the imapsync script
    args: list[str] = []

    def source(self, scenario) -> Path:
        return (scenario.base_dir / self.script).resolve()

    def problem_with(self, scenario) -> str | None:
        if not self.source(scenario).is_file():
            return (f"imapsync script '{self.script}' not found (looked for {self.source(scenario)}); imapsync is in"
                    " no Debian suite: put your copy there")
        return None

    def describe(self) -> str:
        return "imapsync IMAP -> IMAP, per user, on its own machine"

    def run(self, context: MigrationContext) -> list[StepResult]:
        lab = context.lab
        image = ensure_imapsync_image(lab.client, lab.configs["new"].suite, self.source(context.scenario), context.say)
        machine = lab.tool_machine("imapsync", image)
        results = []
        for user, password in context.passwords.items():
            # --option=value: a generated password may begin with '-'
            argv = ["imapsync", "--host1=old", "--port1=143", f"--user1={user}", f"--password1={password}",
                    "--host2=new", "--port2=143", f"--user2={user}", f"--password2={password}",
                    "--nossl1", "--nossl2", "--notls1", "--notls2", "--noreleasecheck", *self.args]
            context.say(f"imapsync {user} old -> new")
            results.append(run_command(machine, f"imapsync {user} (on the imapsync machine)", shlex.join(argv),
                                       EXIT_MEANINGS, secrets=(password,)))
            if not results[-1].ok:
                break
        return results
