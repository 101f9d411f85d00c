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

from ...lab.command import Command
from ..schema.steps import DoveadmBackup
from . import executes
from .context import ADDRESSES_FILE, DOVEADM_EXIT_MEANINGS, MigrationContext, StepResult

DOVEADM_PORT = 12345
# Dovecot's default remote command minus -U (the replicator's flag, gone from 2.4's dsync-server).
DSYNC_REMOTE_CMD_24 = "ssh -l%{login} %{host} doveadm dsync-server -u%{user}"


@executes(DoveadmBackup)
def run(step: DoveadmBackup, context: MigrationContext) -> list[StepResult]:
    runs_on, peer = ("new", "old") if step.direction == "pull" else ("old", "new")
    host = context.lab[runs_on]
    options = ["-o", f"mail_fsync={step.mail_fsync}"]
    if step.transport == "ssh" and context.lab[peer].dovecot_series == "2.4":
        options += ["-o", f"dsync_remote_cmd={DSYNC_REMOTE_CMD_24}"]
    if step.users == "file":
        host.put_file(ADDRESSES_FILE, "".join(f"{user.address}\n" for user in context.scenario.users).encode())
    selections = [["-A"]] if step.users == "all" else [["-F", ADDRESSES_FILE]] if step.users == "file" \
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
            results.append(context.run(host, command, DOVEADM_EXIT_MEANINGS, label=label, ok_codes=(0,) if last else (0, 2)))
            if results[-1].exit_code != 2:
                break
    return results
