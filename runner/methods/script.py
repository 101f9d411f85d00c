"""The user's own migration script (the Script step; the CI regression-testing use): a file
from the user's repository, run as root on old, on new, or on a migrator machine.

The script learns the lab from its environment:
  MAILLAB_OLD_HOST, MAILLAB_NEW_HOST        host names on the lab network (old, new; in place old only)
  MAILLAB_OLD_DOVECOT, MAILLAB_NEW_DOVECOT  Dovecot series, 2.3 or 2.4
  MAILLAB_DOVEADM_PORT, MAILLAB_DOVEADM_PASSWORD   the doveadm service on both servers
  MAILLAB_USERS_FILE                        one address per line, every scenario user
  MAILLAB_PASSWORDS_FILE                    "address password" per line (0600): the users' own
                                            passwords, as for imapc from Gmail (no master user)
  MAILLAB_SSH_KEY                           a private key that logs in as root on old and new
  MAILLAB_LAB_ID
For the run the script gets that key (authorized on both servers where they have sshd, key
only) and loses it and the passwords afterwards. Its exit code and output go into the report, every lab secret masked; the
scenario's expectations judge what it did to the mail.
"""

from __future__ import annotations

from pathlib import Path

from ...lab.command import Command
from ..schema.sources import read_regular
from ..schema.steps import Script
from . import executes
from .context import MigrationContext, StepResult, passwords_text
from .doveadm_backup import DOVEADM_PORT
from .ssh_root_key import authorize_key, give_key, new_key, revoke_key

WORKDIR = "/root/maillab-script"
SCRIPT_KEY = f"{WORKDIR}/id_ed25519"  # the script's own key, gone after its run
KEY_COMMENT = "maillab-script"


def script_environment(lab, users_file: str, passwords_file: str, key: str) -> dict[str, str]:
    """The MAILLAB_* variables a script gets (and `maillab shell` on a kept lab, so that a
    reference solution runs there as it is)."""
    hosts = {f"MAILLAB_{role.upper()}_{name}": value for role in lab.hosts  # in place: old only
             for name, value in (("HOST", role), ("DOVECOT", lab[role].dovecot_series))}
    return hosts | {
        "MAILLAB_DOVEADM_PORT": str(DOVEADM_PORT), "MAILLAB_DOVEADM_PASSWORD": lab.doveadm_password,
        "MAILLAB_USERS_FILE": users_file, "MAILLAB_PASSWORDS_FILE": passwords_file, "MAILLAB_SSH_KEY": key,
        "MAILLAB_LAB_ID": lab.id,
    }


@executes(Script)
def run(step: Script, context: MigrationContext) -> list[StepResult]:
    lab = context.lab
    target = lab.container(step.on)
    name = Path(step.path).name
    target.run_checked(Command.of("mkdir", "-p", "-m", "0700", WORKDIR), "preparing the script's folder")
    target.put_file(f"{WORKDIR}/{name}", read_regular(step.source(context.scenario, step.path)), mode=0o755)
    target.put_file(f"{WORKDIR}/users", "".join(f"{user}\n" for user in context.passwords).encode())
    target.put_file(f"{WORKDIR}/passwords", passwords_text(context.passwords), mode=0o600)
    key = new_key(context, KEY_COMMENT)
    peers = [role for role in lab.hosts if lab[role].SSHD]
    for role in peers:
        authorize_key(lab[role], key)
    scan = give_key(context, target, SCRIPT_KEY, key, peers)
    if not scan.ok:
        return [scan]
    env = script_environment(lab, f"{WORKDIR}/users", f"{WORKDIR}/passwords", SCRIPT_KEY)
    result = context.run(target, Command.of(f"./{name}", *step.args), {0: "success"}, env=env, workdir=WORKDIR,
                         label=f"{step.path} (as root on {step.on})")
    for role in peers:  # the key lives for the script's run only
        revoke_key(lab[role], KEY_COMMENT)
    target.run_checked(Command.of("rm", "-f", SCRIPT_KEY, f"{WORKDIR}/passwords"), "removing the key and the passwords")
    return [scan, result.model_copy(update={"show_output": True})]
