"""Root login by key only between the hosts, for doveadm's `remote:` (ssh) transport.

install (seed 001): sshd on the peer gets PermitRootLogin prohibit-password,
PubkeyAuthentication yes, PasswordAuthentication no; a key pair made for this lab goes to the
client's /root/.ssh and the peer's authorized_keys; the peer's host key is scanned into
known_hosts. remove (seed 000: "delete the key after you complete the process") deletes both
halves and the sshd drop-in, then checks that the key no longer gets in.
"""

from __future__ import annotations

import shlex
from typing import Literal

import asyncssh

from lab.host import LabContainer, MailHostContainer

from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command

SSHD_DROP_IN = "/etc/ssh/sshd_config.d/maillab-migration.conf"
SSHD_SETTINGS = "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
KEY = "/root/.ssh/id_ed25519"
KEY_COMMENT = "maillab-migration"
EXIT_MEANINGS = {0: "success", 255: "ssh failed to connect or authenticate"}


def authorize_key(peer: MailHostContainer, key: asyncssh.SSHKey) -> None:
    """Root login on `peer` by key only, and `key` allowed in."""
    peer.put_file(SSHD_DROP_IN, SSHD_SETTINGS.encode())
    peer.run_checked("mkdir -p -m 0700 /root/.ssh", "preparing /root/.ssh")
    line = key.export_public_key().decode().strip()
    peer.run_checked(f"echo {shlex.quote(line)} >> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
                     "authorizing the key")
    peer.service("sshd", "restart")


def revoke_key(peer: MailHostContainer, comment: str) -> None:
    """Delete the authorized keys that carry `comment` from root's authorized_keys on `peer`."""
    peer.run_checked(f"sed -i '/ {comment}$/d' /root/.ssh/authorized_keys", "removing the authorized key")


def give_key(client: LabContainer, path: str, key: asyncssh.SSHKey, peers: list[str]) -> StepResult:
    """Put the private key on `client` and trust the peers' host keys (ssh-keyscan)."""
    client.run_checked("mkdir -p -m 0700 /root/.ssh", "preparing /root/.ssh")
    client.put_file(path, key.export_private_key(), mode=0o600)
    names = " ".join(peers)
    return run_command(client, f"trust the host keys of {', '.join(peers)} (ssh-keyscan)",
                       f"for i in $(seq 20); do ssh-keyscan -t ed25519 {names} >> /root/.ssh/known_hosts"
                       f" 2>/dev/null && [ $(wc -l < /root/.ssh/known_hosts) -ge {len(peers)} ] && exit 0; sleep 0.25; done; exit 1",
                       {0: "success", 1: "sshd on a peer did not answer"})


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
            authorize_key(peer, key)
            scan = give_key(client, KEY, key, [self.peer])
            if not scan.ok:
                return [scan]
            return [scan, run_command(client, f"{ssh} true (key login works)", f"{ssh} true", EXIT_MEANINGS)]
        revoke_key(peer, KEY_COMMENT)
        peer.run_checked(f"rm -f {SSHD_DROP_IN}", "removing the sshd settings")
        peer.service("sshd", "restart")
        client.run_checked(f"rm -f {KEY} {KEY}.pub", "removing the private key")
        # The check: the old key must no longer log in (ssh exits 255).
        refused = run_command(client, f"{ssh} true (must now be refused)", f"{ssh} true",
                              {255: "refused, as it must be", 0: "STILL LOGS IN: the key was not removed"})
        return [refused.model_copy(update={"ok": refused.exit_code == 255})]
