"""`doveadm backup` (or `sync`) between the servers (the DoveadmBackup step).

pull: runs on new with -R against old (the Dovecot migration doc);
push: runs on old against new (the doveadm walkthroughs).
transport tcp: the doveadm service on port 12345 with the lab's doveadm_password;
transport ssh: `remote:root@PEER`, doveadm dsync-server over ssh as root (needs an
ssh_root_key install step first; against a Dovecot 2.4 peer the step sets dsync_remote_cmd
without -U, which 2.4.0-2.4.2's dsync-server rejects). Users: one or more with -u, all
users of the userdb with -A, or a users file with -F. Exit code 2 means "mailbox changes
caused a desync, run it again": the step reruns up to `desync_retries` times. `exclude`
leaves folders out (-x, by SPECIAL-USE flag or name): seed 002's Gmail migration skips the
virtual Starred and Important with `-x '\\Flagged' -x '\\Important'`.
`mail_fsync` defaults to never for the run, as the Dovecot migration doc advises ("avoid
useless IO"); it applies where doveadm runs, which writes the mail when pulling.
"""

from __future__ import annotations

from maillab.lab.command import Command
from maillab.runner.migrate.context import MigrationContext, StepResult
from maillab.runner.steps import DoveadmBackup

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


def run(step: DoveadmBackup, context: MigrationContext) -> list[StepResult]:
    runs_on, peer = ("new", "old") if step.direction == "pull" else ("old", "new")
    host = context.lab[runs_on]
    options = ["-o", f"mail_fsync={step.mail_fsync}"]
    if step.transport == "ssh" and context.lab[peer].dovecot_series == "2.4":
        options += ["-o", f"dsync_remote_cmd={DSYNC_REMOTE_CMD_24}"]
    if step.users == "file":
        host.put_file(USERS_FILE, "".join(f"{user.address}\n" for user in context.scenario.users).encode())
    selections = [["-A"]] if step.users == "all" else [["-F", USERS_FILE]] if step.users == "file" \
        else [["-u", user] for user in step.users]
    # a folder by the name the source's clients see it ('INBOX.Archive' on a Courier-style old)
    excludes = [option for mask in step.exclude for option in
                ("-x", mask if mask.startswith("\\") else context.lab["old"].spec.imap_name(mask))]
    destination = f"tcp:{peer}:{DOVEADM_PORT}" if step.transport == "tcp" else f"remote:root@{peer}"
    results = []
    for selection in selections:
        command = Command.of("doveadm", *options, step.command, *(["-1"] if step.one_way else []),
                             *(["-f"] if step.full else []),
                             *(["-R"] if step.direction == "pull" else []),
                             *excludes, *selection, destination)
        for attempt in range(step.desync_retries + 1):
            label = f"{command.display} (on {runs_on})" + (f", run {attempt + 1}" if attempt else "")
            last = attempt == step.desync_retries
            # a desync (2) that is run again is what doveadm asks for, not a failure
            results.append(context.run(host, command, EXIT_MEANINGS, label=label, ok_codes=(0,) if last else (0, 2)))
            if results[-1].exit_code != 2:
                break
    return results
