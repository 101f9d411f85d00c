"""MailHostContainer: one Debian mail server (Dovecot, Postfix, MariaDB, sshd) in the style of
a testcontainers module. It is ready when the services really work: MariaDB answers, SMTP
answers EHLO and an IMAP LOGIN succeeds. When it never gets there, the error carries the tail
of the container log.
"""

from __future__ import annotations

import functools
import io
import shlex
import smtplib
import socket
import tarfile
import time
from dataclasses import dataclass

from imapclient import IMAPClient
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from lab.errors import HostNotReady, LabError

PORTS = {"smtp": 25, "pop3": 110, "imap": 143, "sieve": 4190, "doveadm": 12345, "ssh": 22}
SERVICES = ("dovecot", "postfix", "mariadb", "sshd")
PROBE_USER = "maillab-probe"
VMAIL_UID = 5000


# The personal namespace's prefix and separator, by style: Dovecot's default, or Courier's
# `INBOX.` prefix with `.` (what many old servers show their clients).
NAMESPACES = {"dovecot": ("", "/"), "courier": ("INBOX.", ".")}


@dataclass(frozen=True)
class HostConfig:
    """How one lab host's Dovecot is set up (the scenario's `hosts.<role>`)."""

    suite: str
    mail_format: str = "maildir"  # maildir | mdbox
    user_store: str = "sql"  # sql | passwd-file
    namespace: str = "dovecot"  # dovecot | courier (see NAMESPACES)
    compression: str = "none"  # none | gz | zstd: how new mail is written
    pop3_uidl_format: str | None = None  # None: Dovecot's default

    def imap_name(self, folder: str) -> str:
        """The name IMAP clients of this host see for `folder` ('A/B' in the scenario)."""
        if folder == "INBOX":
            return folder
        prefix, separator = NAMESPACES[self.namespace]
        return prefix + folder.replace("/", separator)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


def imap_login(port: int, user: str, password: str) -> IMAPClient:
    """An IMAP session on a host's port published on 127.0.0.1."""
    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=60)
    # Small IMAP commands through docker-proxy stall on Nagle's algorithm without this.
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.normalise_times = False
    try:
        client.login(user, password)
    except Exception:
        client.shutdown()
        raise
    return client


class LabContainer(DockerContainer):
    """What every lab container offers: a role on the lab network, commands run inside it,
    files in and out, and its log."""

    role: str

    def reload_state(self) -> None:
        self.get_wrapped_container().reload()

    def state(self) -> str:
        return self.get_wrapped_container().status

    def log_tail(self, lines: int = 15) -> str:
        text = self.get_wrapped_container().logs(tail=lines).decode(errors="replace").strip()
        return "last log lines: " + " | ".join(text.splitlines())

    def logs(self) -> str:
        return self.get_wrapped_container().logs().decode(errors="replace")

    # -- commands and files ---------------------------------------------------------------
    def run(self, command: list[str] | str, *, user: str | None = None, env: dict[str, str] | None = None) -> ExecResult:
        """Run a command in the host (a string goes through sh -c)."""
        argv = ["sh", "-c", command] if isinstance(command, str) else command
        exit_code, (stdout, stderr) = self.get_wrapped_container().exec_run(
            argv, user=user or "", environment=env, demux=True
        )
        return ExecResult(exit_code, (stdout or b"").decode(errors="replace"), (stderr or b"").decode(errors="replace"))

    def run_checked(self, command: list[str] | str, what: str) -> ExecResult:
        result = self.run(command)
        if result.exit_code != 0:
            raise LabError(f"{what} on '{self.role}' failed (exit {result.exit_code}): {result.output[-300:]}")
        return result

    def put_archive(self, path: str, archive: bytes) -> None:
        if not self.get_wrapped_container().put_archive(path, archive):
            raise LabError(f"copying files into '{self.role}:{path}' failed")

    def extract(self, directory: str, archive: bytes) -> None:
        """Unpack a tar into `directory` inside the host. Unlike put_archive this reaches
        tmpfs mounts such as /var/vmail, which `docker cp` writes underneath."""
        self.put_file("/tmp/maillab-upload.tar", archive, mode=0o600)
        self.run_checked(f"tar -C {shlex.quote(directory)} -xpf /tmp/maillab-upload.tar"
                         " && rm /tmp/maillab-upload.tar", f"unpacking files into {directory}")

    def put_file(self, path: str, content: bytes, mode: int = 0o644, uid: int = 0) -> None:
        directory, _, name = path.rpartition("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(content), mode, uid, uid, time.time()
            tar.addfile(info, io.BytesIO(content))
        self.put_archive(directory or "/", buffer.getvalue())

    def read_file(self, path: str) -> bytes:
        stream, _ = self.get_wrapped_container().get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member else None
            if extracted is None:
                raise LabError(f"'{self.role}:{path}' is not a file")
            return extracted.read()


class MigratorContainer(LabContainer):
    """A separate machine on the lab network for migration tools and the user's own scripts:
    by default the new server's image (doveadm, mysql, rsync, ssh, mbsync at hand) with no
    services running."""

    def __init__(self, image: str, *, role: str, labels: dict[str, str], network: Network, name: str) -> None:
        super().__init__(image)
        self.role = role
        self.with_name(name)
        self.with_network(network).with_network_aliases(self.role)
        self.with_kwargs(labels=labels, hostname=self.role, entrypoint=["sleep", "infinity"])

    def start(self) -> MigratorContainer:
        super().start()
        if self.run("true").exit_code != 0:
            raise HostNotReady(f"the {self.role} container does not run commands; {self.log_tail()}")
        return self


class MailHostContainer(LabContainer):
    def __init__(
        self,
        image: str,
        *,
        role: str,
        labels: dict[str, str],
        network: Network,
        config: HostConfig,
        doveadm_password: str,
        db_password: str,
        probe_password: str,
        name: str,
    ) -> None:
        super().__init__(image)
        self.role = role
        self.config = config
        self.doveadm_password = doveadm_password
        self.probe_password = probe_password
        self.with_name(name)
        self.with_network(network).with_network_aliases(role)
        self.with_kwargs(labels=labels, hostname=role)
        self.with_envs(
            MAILLAB_USER_STORE=config.user_store,
            MAILLAB_MAIL_FORMAT=config.mail_format,
            MAILLAB_NAMESPACE=config.namespace,
            MAILLAB_COMPRESSION=config.compression,
            MAILLAB_POP3_UIDL_FORMAT=config.pop3_uidl_format or "",
            MAILLAB_DOVEADM_PASSWORD=doveadm_password,
            MAILLAB_DB_PASSWORD=db_password,
            MAILLAB_PROBE_PASSWORD=probe_password,
        )
        # Mail lives in memory: a lab is thrown away, and the engine's storage driver here
        # (fuse-overlayfs) writes thousands of small Maildir files twenty times slower.
        self.tmpfs["/var/vmail"] = f"mode=0770,uid={VMAIL_UID},gid={VMAIL_UID}"
        for port in PORTS.values():
            # Published on the loopback interface only.
            self.ports[f"{port}/tcp"] = ("127.0.0.1", None)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 90) -> MailHostContainer:
        self.start_container()
        self.wait_until_ready(timeout)
        return self

    def start_container(self) -> None:
        """Start the container without waiting for its services."""
        super().start()

    def wait_until_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        checks = [("MariaDB", self._mariadb_answers), ("SMTP EHLO", self._smtp_answers),
                  ("IMAP LOGIN", self._imap_login_works)]
        for what, check in checks:
            last_error = "no answer"
            while True:
                try:
                    check()
                    break
                except Exception as error:  # noqa: BLE001  every failure here means "not yet"
                    last_error = str(error) or type(error).__name__
                self.reload_state()
                if self.state() != "running":
                    raise HostNotReady(f"host '{self.role}' exited during start-up; {self.log_tail()}")
                if time.monotonic() > deadline:
                    raise HostNotReady(
                        f"host '{self.role}' not ready after {timeout:.0f} s: {what} failed ({last_error}); "
                        f"{self.log_tail()}"
                    )
                time.sleep(0.2)

    def _mariadb_answers(self) -> None:
        result = self.run(["mysqladmin", "--silent", "ping"])
        if result.exit_code != 0:
            raise LabError(result.output)

    def _smtp_answers(self) -> None:
        with smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=5) as smtp:
            code, _ = smtp.ehlo("maillab")
            if code != 250:
                raise LabError(f"EHLO answered {code}")

    def _imap_login_works(self) -> None:
        with self.imap(PROBE_USER, self.probe_password):
            pass

    # -- access --------------------------------------------------------------------------
    def port(self, service: str) -> int:
        return int(self.get_exposed_port(PORTS[service]))

    def imap(self, user: str, password: str) -> IMAPClient:
        return imap_login(self.port("imap"), user, password)

    @functools.cached_property
    def dovecot_series(self) -> str:
        """'2.3' or '2.4': which configuration language this host's Dovecot speaks."""
        return self.read_file("/etc/dovecot/maillab-series").decode().strip()

    def password_hashes(self, passwords: list[str]) -> list[str]:
        """SHA512-CRYPT hashes made by this host's own `doveadm pw`."""
        script = 'for p in "$@"; do doveadm pw -s SHA512-CRYPT -p "$p"; done'
        return self.run_checked(["sh", "-c", script, "hash", *passwords], "hashing passwords").stdout.split()

    def wait_for_user(self, address: str, timeout: float = 5) -> None:
        """Wait until Dovecot's userdb knows `address`. Its passwd-file driver looks at the file
        at most once a second, so a lookup right after an edit can still see the old file."""
        deadline = time.monotonic() + timeout
        while self.run(["doveadm", "user", address]).exit_code != 0:
            if time.monotonic() > deadline:
                raise LabError(f"user {address} is not known to Dovecot on '{self.role}' after {timeout:.0f} s")
            time.sleep(0.25)

    def service(self, name: str, action: str) -> None:
        """Stop, start or restart one service of the host (dovecot, postfix, mariadb, sshd)."""
        if name not in SERVICES or action not in ("stop", "start", "restart"):
            raise LabError(f"cannot {action} service '{name}'")
        self.run_checked(["supervisorctl", action, name], f"{action} {name}")

    def sql(self, statements: str, database: str = "mailserver") -> ExecResult:
        self.put_file("/tmp/maillab.sql", statements.encode())
        return self.run_checked(f"mysql {shlex.quote(database)} < /tmp/maillab.sql", "SQL")
