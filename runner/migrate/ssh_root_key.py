"""Root login by key only between the hosts, for doveadm's `remote:` (ssh) transport.

install (seed 001): sshd on the peer gets PermitRootLogin prohibit-password,
PubkeyAuthentication yes, PasswordAuthentication no; a key pair made for this lab goes to the
client's /root/.ssh and the peer's authorized_keys; the peer's host key is scanned into
known_hosts. remove (seed 000: "delete the key after you complete the process") deletes both
halves and the sshd drop-in, then checks that the key no longer gets in.
"""

from __future__ import annotations

from typing import Literal

import asyncssh

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command

SSHD_DROP_IN = "/etc/ssh/sshd_config.d/maillab-migration.conf"
SSHD_SETTINGS = "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
KEY = "/root/.ssh/id_ed25519"
KEY_COMMENT = "maillab-migration"
EXIT_MEANINGS = {0: "success", 255: "ssh failed to connect or authenticate"}


class SshRootKey(MigrationStep):
    method: Literal["ssh_root_key"]
    action: Literal["install", "remove"]
    client: Literal["old", "new"] = "old"  # where ssh (and so doveadm) runs

    @property
    def peer(self) -> str:
        return "new" if self.client == "old" else "old"

    def describe(self) -> str:
        return f"{self.action} a root ssh key from {self.client} to {self.peer} (key only)"

    def run(self, context: MigrationContext) -> list[StepResult]:
        client, peer = context.lab[self.client], context.lab[self.peer]
        ssh = f"ssh -o BatchMode=yes -o ConnectTimeout=5 root@{self.peer}"
        if self.action == "install":
            key = asyncssh.generate_private_key("ssh-ed25519", comment=KEY_COMMENT)
            peer.put_file(SSHD_DROP_IN, SSHD_SETTINGS.encode())
            peer.run_checked("mkdir -p -m 0700 /root/.ssh", "preparing /root/.ssh")
            peer.put_file("/root/.ssh/authorized_keys", key.export_public_key(), mode=0o600)
            peer.service("sshd", "restart")
            client.run_checked("mkdir -p -m 0700 /root/.ssh", "preparing /root/.ssh")
            client.put_file(KEY, key.export_private_key(), mode=0o600)
            scan = run_command(client, f"trust {self.peer}'s host key (ssh-keyscan)",
                               f"for i in $(seq 20); do ssh-keyscan -t ed25519 {self.peer} > /root/.ssh/known_hosts"
                               " 2>/dev/null && [ -s /root/.ssh/known_hosts ] && exit 0; sleep 0.25; done; exit 1",
                               {0: "success", 1: "sshd on the peer did not answer"})
            if not scan.ok:
                return [scan]
            return [scan, run_command(client, f"{ssh} true (key login works)", f"{ssh} true", EXIT_MEANINGS)]
        peer.run_checked(f"sed -i '/ {KEY_COMMENT}$/d' /root/.ssh/authorized_keys; rm -f {SSHD_DROP_IN}",
                         "removing the authorized key")
        peer.service("sshd", "restart")
        client.run_checked(f"rm -f {KEY} {KEY}.pub", "removing the private key")
        # The check: the old key must no longer log in (ssh exits 255).
        refused = run_command(client, f"{ssh} true (must now be refused)", f"{ssh} true",
                              {255: "refused, as it must be", 0: "STILL LOGS IN: the key was not removed"})
        return [refused.model_copy(update={"ok": refused.exit_code == 255})]
