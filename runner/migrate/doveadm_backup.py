"""`doveadm backup` (or `sync`) over the doveadm protocol on tcp.

pull: runs on new with -R against old (the Dovecot migration doc);
push: runs on old against new (the doveadm walkthroughs).
transport tcp: the doveadm service on port 12345 with the lab's doveadm_password;
transport ssh: `remote:root@PEER`, doveadm dsync-server over ssh as root (needs an
ssh_root_key install step first; against a Dovecot 2.4 peer the step sets dsync_remote_cmd
without -U, which 2.4.0-2.4.2's dsync-server rejects). Users: one or more with -u, all
users of the userdb with -A, or a users file with -F. Exit code 2 means "mailbox changes
caused a desync, run it again": the step reruns up to `desync_retries` times.
`mail_fsync` defaults to never for the run, as the Dovecot migration doc advises ("avoid
useless IO"); it applies where doveadm runs, which writes the mail when pulling.
"""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import Field

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command

DOVEADM_PORT = 12345
# doveadm's exit codes (Dovecot's doveadm error codes, sysexits.h).
EXIT_MEANINGS = {
    0: "success",
    1: "failed",
    2: "mailbox changes caused a desync: run it again until it exits 0",
    64: "usage error",
    65: "data error (e.g. the target INBOX exists with another GUID: never touch targets before the first sync)",
    67: "unknown user",
    68: "not found (mailbox, namespace or host)",
    73: "cannot create: out of quota",
    75: "temporary failure (lock timeout, disconnected from remote): retry",
    76: "remote protocol error",
    77: "permission denied (wrong doveadm_password or authentication)",
    78: "configuration error",
}
USERS_FILE = "/root/maillab-users"
# Dovecot's default remote command minus -U (the replicator's flag, gone from 2.4's dsync-server).
DSYNC_REMOTE_CMD_24 = "ssh -l%{login} %{host} doveadm dsync-server -u%{user}"


class DoveadmBackup(MigrationStep):
    method: Literal["doveadm_backup"]
    command: Literal["backup", "sync"] = "backup"
    direction: Literal["pull", "push"] = "pull"
    transport: Literal["tcp", "ssh"] = "tcp"
    users: Literal["all", "file"] | list[str] = "all"
    one_way: bool = False  # sync -1: a backup that keeps what only the destination has
    desync_retries: int = Field(2, ge=0, le=10)
    mail_fsync: Literal["never", "optimized", "always"] = "never"

    def describe(self) -> str:
        command = f"{self.command} -1" if self.one_way else self.command
        return f"doveadm {command} ({self.direction}, {self._user_args_text()}, {self.transport})"

    def _user_args_text(self) -> str:
        if self.users == "all":
            return "-A"
        if self.users == "file":
            return f"-F {USERS_FILE}"
        return " ".join(f"-u {u}" for u in self.users)

    def _destination(self, peer: str) -> str:
        return f"tcp:{peer}:{DOVEADM_PORT}" if self.transport == "tcp" else f"remote:root@{peer}"

    def problem_with(self, scenario) -> str | None:
        known = {user.address for user in scenario.users}
        unknown = [u for u in self.users if u not in known] if isinstance(self.users, list) else []
        if unknown:
            return f"users not in the scenario: {', '.join(unknown)}"
        if self.one_way and self.command != "sync":
            return "one_way (-1) goes with command: sync"
        return None

    def run(self, context: MigrationContext) -> list[StepResult]:
        runs_on, peer = ("new", "old") if self.direction == "pull" else ("old", "new")
        host = context.lab[runs_on]
        remote_cmd = ["-o", f"dsync_remote_cmd={DSYNC_REMOTE_CMD_24}"] \
            if self.transport == "ssh" and context.lab[peer].dovecot_series == "2.4" else []
        if self.users == "file":
            listed = "".join(f"{user.address}\n" for user in context.scenario.users)
            host.put_file(USERS_FILE, listed.encode())
        selections = [["-A"]] if self.users == "all" else [["-F", USERS_FILE]] if self.users == "file" \
            else [["-u", user] for user in self.users]
        results = []
        for selection in selections:
            argv = ["doveadm", "-o", f"mail_fsync={self.mail_fsync}", *remote_cmd, self.command,
                    *(["-1"] if self.one_way else []), *(["-R"] if self.direction == "pull" else []), *selection, self._destination(peer)]
            command = shlex.join(argv)
            for attempt in range(self.desync_retries + 1):
                label = f"{command} (on {runs_on})" + (f", run {attempt + 1}" if attempt else "")
                context.say(label)
                result = run_command(host, label, command, EXIT_MEANINGS)
                results.append(result)
                if result.exit_code != 2:
                    break
        return results
