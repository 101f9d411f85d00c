"""The user's own migration script (the CI regression-testing use): a file from the user's
repository, run as root on old, on new, or on a separate migrator machine on the lab network.

The script learns the lab from its environment:
  MAILLAB_OLD_HOST, MAILLAB_NEW_HOST        host names on the lab network (old, new)
  MAILLAB_OLD_DOVECOT, MAILLAB_NEW_DOVECOT  Dovecot series, 2.3 or 2.4
  MAILLAB_DOVEADM_PORT, MAILLAB_DOVEADM_PASSWORD   the doveadm service on both servers
  MAILLAB_USERS_FILE                        one address per line, every scenario user
  MAILLAB_SSH_KEY                           a private key that logs in as root on old and new
  MAILLAB_LAB_ID
For the run the script gets that key (authorized on both servers, key only) and loses it
afterwards. Its exit code and output go into the report; the scenario's expectations judge
what it did to the mail.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal

import asyncssh
from pydantic import Field

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command
from runner.migrate.doveadm_backup import DOVEADM_PORT
from runner.migrate.ssh_root_key import authorize_key, give_key, revoke_key

WORKDIR = "/root/maillab-script"
KEY = f"{WORKDIR}/id_ed25519"
KEY_COMMENT = "maillab-script"


class Script(MigrationStep):
    method: Literal["script"]
    path: str = Field(min_length=1)  # relative to the scenario file
    on: Literal["old", "new", "migrator"] = "new"
    args: list[str] = []

    def source(self, scenario) -> Path:
        return (scenario.base_dir / self.path).resolve()

    def problem_with(self, scenario) -> str | None:
        if not self.source(scenario).is_file():
            return f"script '{self.path}' not found (looked for {self.source(scenario)})"
        return None

    def describe(self) -> str:
        return f"your script {self.path} (as root on {self.on})"

    def run(self, context: MigrationContext) -> list[StepResult]:
        lab = context.lab
        target = lab.container(self.on)
        name = Path(self.path).name
        target.run_checked(f"mkdir -p -m 0700 {WORKDIR}", "preparing the script's folder")
        target.put_file(f"{WORKDIR}/{name}", self.source(context.scenario).read_bytes(), mode=0o755)
        target.put_file(f"{WORKDIR}/users", "".join(f"{user}\n" for user in context.passwords).encode())
        key = asyncssh.generate_private_key("ssh-ed25519", comment=KEY_COMMENT)
        for role in ("old", "new"):
            authorize_key(lab[role], key)
        scan = give_key(target, KEY, key, ["old", "new"])
        if not scan.ok:
            return [scan]
        env = {
            "MAILLAB_OLD_HOST": "old", "MAILLAB_NEW_HOST": "new",
            "MAILLAB_OLD_DOVECOT": lab["old"].dovecot_series, "MAILLAB_NEW_DOVECOT": lab["new"].dovecot_series,
            "MAILLAB_DOVEADM_PORT": str(DOVEADM_PORT), "MAILLAB_DOVEADM_PASSWORD": lab.doveadm_password,
            "MAILLAB_USERS_FILE": f"{WORKDIR}/users", "MAILLAB_SSH_KEY": KEY, "MAILLAB_LAB_ID": lab.id,
        }
        command = f"cd {WORKDIR} && " + shlex.join(["env", *(f"{k}={v}" for k, v in env.items()),
                                                     f"./{name}", *self.args])
        context.say(f"running {self.path} on {self.on}")
        result = run_command(target, f"{self.path} (as root on {self.on})", command,
                             {0: "success"}, secrets=(lab.doveadm_password,)).model_copy(update={"show_output": True})
        for role in ("old", "new"):  # the key lives for the script's run only
            revoke_key(lab[role], KEY_COMMENT)
        target.run_checked(f"rm -f {KEY}", "removing the private key")
        return [scan, result]
