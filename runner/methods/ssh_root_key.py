"""Root login by key only between the hosts, for doveadm's `remote:` (ssh) transport (the
SshRootKey step).

install (seed 001): sshd on the peer gets PermitRootLogin prohibit-password,
PubkeyAuthentication yes, PasswordAuthentication no; a key pair made for this lab goes to the
client's /root/.ssh and the peer's authorized_keys; the peer's host key is scanned into
known_hosts. remove (seed 000: "delete the key after you complete the process") deletes both
halves and the sshd drop-in, then checks that the key no longer gets in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...lab.command import Command
from ...lab.errors import LabError, WaitTimeout
from ...lab.poll import NotYet, poll
from ..schema.steps import SshRootKey
from . import executes
from .context import ADDRESSES_FILE, PASSWORDS_FILE, MigrationContext, StepResult, passwords_text

SSHD_DROP_IN = "/etc/ssh/sshd_config.d/maillab-migration.conf"
SSHD_SETTINGS = "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
SSH_DIR = "/root/.ssh"
AUTHORIZED_KEYS = f"{SSH_DIR}/authorized_keys"
KNOWN_HOSTS = f"{SSH_DIR}/known_hosts"
KEY = f"{SSH_DIR}/id_ed25519"
KEY_COMMENT = "maillab-migration"
TRAINEE_KEY_COMMENT = "maillab-lab"  # the key a kept lab's hosts trust each other with
EXIT_MEANINGS = {0: "success", 255: "ssh failed to connect or authenticate"}


@dataclass(frozen=True)
class KeyPair:
    public: str  # the authorized_keys line
    private: bytes  # exported once: OpenSSH's format holds a random check number


def new_key(context: MigrationContext, comment: str) -> KeyPair:
    """A key pair for this lab; its private half is a secret of the lab, masked everywhere."""
    import asyncssh  # noqa: PLC0415  (0.07 s of every run's start; only the steps that need a key load it)

    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    pair = KeyPair(key.export_public_key().decode().strip(), key.export_private_key())
    context.lab.secrets.update(line for line in pair.private.decode().splitlines() if "PRIVATE KEY" not in line)
    return pair


def _read(host, path: str) -> str:
    try:
        return host.read_file(path).decode()
    except FileNotFoundError:
        return ""


def authorize_key(peer, key: KeyPair) -> None:
    """Root login on `peer` by key only, and `key` allowed in."""
    peer.put_file(SSHD_DROP_IN, SSHD_SETTINGS.encode())
    peer.run_checked(Command.of("mkdir", "-p", "-m", "0700", SSH_DIR), f"preparing {SSH_DIR}")
    peer.put_file(AUTHORIZED_KEYS, (_read(peer, AUTHORIZED_KEYS) + key.public + "\n").encode(), mode=0o600)
    peer.service("sshd", "restart")


def revoke_key(peer, comment: str) -> None:
    """Delete the authorized keys that carry `comment` from root's authorized_keys on `peer`."""
    kept = [line for line in _read(peer, AUTHORIZED_KEYS).splitlines() if not line.endswith(f" {comment}")]
    peer.put_file(AUTHORIZED_KEYS, "".join(f"{line}\n" for line in kept).encode(), mode=0o600)


def give_key(context: MigrationContext, client, path: str, key: KeyPair, peers: list[str]) -> StepResult:
    """Put the private key on `client` and trust the peers' host keys (ssh-keyscan, until
    every peer's sshd answers)."""
    started = time.monotonic()
    client.run_checked(Command.of("mkdir", "-p", "-m", "0700", SSH_DIR), f"preparing {SSH_DIR}")
    client.put_file(path, key.private, mode=0o600)
    label = f"trust the host keys of {', '.join(peers)} (ssh-keyscan)"

    def scanned() -> str:
        output = client.run(Command.of("ssh-keyscan", "-t", "ed25519", *peers)).stdout
        keys = [line for line in output.splitlines() if line.split(" ", 1)[0] in peers]
        if missing := set(peers) - {line.split(" ", 1)[0] for line in keys}:
            raise NotYet(f"no host key from {', '.join(sorted(missing))}")
        return "".join(f"{line}\n" for line in keys)
    try:
        keys = poll(label, scanned, timeout=10, interval=0.25)
    except WaitTimeout as error:
        return context.done(label, client.role, False, "sshd on a peer did not answer", started, error.last_error)
    client.put_file(KNOWN_HOSTS, (_read(client, KNOWN_HOSTS) + keys).encode(), mode=0o600)
    return context.done(label, client.role, True, "success", started)


def trust_each_other(context: MigrationContext) -> None:
    """Root on old and on new logs in to the other host by key (a lab a person works in:
    `ssh old mysqldump mailserver | mysql mailserver` on new, as the ISPmail guide copies),
    and both have the users' list and passwords that a script step's MAILLAB_USERS_FILE and
    MAILLAB_PASSWORDS_FILE name. A host without sshd (Gmail, Cyrus) is reached over IMAP only."""
    key = new_key(context, TRAINEE_KEY_COMMENT)
    hosts = [role for role in context.lab.hosts if context.lab[role].SSHD]
    for role in hosts:
        authorize_key(context.lab[role], key)
    for client, peer in (("old", "new"), ("new", "old")) if "new" in context.lab.hosts else (("old", "old"),):
        if client not in hosts:
            continue
        if peer in hosts and not (scan := give_key(context, context.lab[client], KEY, key, [peer])).ok:
            raise LabError(f"{client} cannot reach {peer}'s sshd: {scan.meaning}")
        context.lab[client].put_file(ADDRESSES_FILE, "".join(f"{user}\n" for user in context.passwords).encode())
        context.lab[client].put_file(PASSWORDS_FILE, passwords_text(context.passwords), mode=0o600)


@executes(SshRootKey)
def run(step: SshRootKey, context: MigrationContext) -> list[StepResult]:
    client, peer = context.lab[step.client], context.lab[step.peer]
    ssh = Command.of("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"root@{step.peer}", "true")
    if step.action == "install":
        key = new_key(context, KEY_COMMENT)
        authorize_key(peer, key)
        scan = give_key(context, client, KEY, key, [step.peer])
        if not scan.ok:
            return [scan]
        return [scan, context.run(client, ssh, EXIT_MEANINGS, label=f"{ssh.display} (key login works)")]
    revoke_key(peer, KEY_COMMENT)
    peer.run_checked(Command.of("rm", "-f", SSHD_DROP_IN), "removing the sshd settings")
    peer.service("sshd", "restart")
    client.run_checked(Command.of("rm", "-f", KEY, f"{KEY}.pub"), "removing the private key")
    # The check: the old key must no longer log in (ssh exits 255).
    return [context.run(client, ssh, {255: "refused, as it must be", 0: "STILL LOGS IN: the key was not removed"},
                        label=f"{ssh.display} (must now be refused)", ok_codes=(255,))]
