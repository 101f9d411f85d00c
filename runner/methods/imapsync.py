"""imapsync, the de-facto IMAP copy tool, as an optional contrast method (the Imapsync step).
It is in no Debian suite and maillab downloads nothing: the scenario names the imapsync script
the user provides, and its image is built from that on first use. It runs on its own machine
on the lab network, one run per user, old -> new over plain IMAP. Like any client-side copy
it APPENDs: expect new UIDVALIDITY and UIDs, no Sieve.
"""

from __future__ import annotations

from ...lab.command import Command
from ..schema.steps import Imapsync
from . import executes
from .context import MigrationContext, StepResult

# imapsync's exit codes (its EX_* constants), the common ones.
EXIT_MEANINGS = {0: "success", 1: "failed", 6: "interrupted", 10: "connection failure", 16: "authentication failure",
                 111: "errors during the transfer", 162: "an imapsync dependency is missing"}


PASSFILE = "/root/maillab-imapsync-password"  # the user's password (0600): a command line is shown by `ps`


@executes(Imapsync)
def run(step: Imapsync, context: MigrationContext) -> list[StepResult]:
    machine = context.lab.imapsync_machine(step.source(context.scenario, step.script))
    results = []
    try:
        for user, password in context.passwords.items():
            machine.put_file(PASSFILE, f"{password}\n".encode(), mode=0o600)
            # --option=value: an address may begin with '-'
            command = Command.of("imapsync", "--host1=old", "--port1=143", f"--user1={user}", f"--passfile1={PASSFILE}",
                                 "--host2=new", "--port2=143", f"--user2={user}", f"--passfile2={PASSFILE}",
                                 "--nossl1", "--nossl2", "--notls1", "--notls2", "--noreleasecheck", *step.args,
                                 secrets=[password])
            results.append(context.run(machine, command, EXIT_MEANINGS,
                                       label=f"imapsync {user} (on the imapsync machine)"))
            if not results[-1].ok:
                break
    finally:
        machine.run_checked(Command.of("rm", "-f", PASSFILE), "removing the imapsync password")
    return results
