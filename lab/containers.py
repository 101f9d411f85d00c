"""Lab containers in the style of testcontainers modules: one class per kind of machine.

MailHostContainer is one Debian mail server (Dovecot, Postfix, MariaDB, sshd). It is ready
when its services do real work: MariaDB answers a query, SMTP answers EHLO and an IMAP LOGIN
succeeds; when it never gets there, the error carries the tail of its log. ToolContainer is
a machine without services on the lab network (a migrator, imapsync).

Everything run inside goes through `run`, which takes a Command and a timeout: a command past
its timeout is killed and ends the rehearsal with ExecTimeout naming it.
"""

from __future__ import annotations

import functools
import io
import ipaddress
import logging
import poplib
import re
import smtplib
import shlex
import socket
import tarfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import docker.errors
from docker.types import Mount
import pymysql
from imapclient import IMAPClient
from sievelib.managesieve import Client as ManageSieveClient
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from ..runner.schema.scenario import HostSpec
from ..runner.schema.stores import SQL_KINDS
from ..runner.schema.sources import config_files
from . import own_config
from .stores import store_of
from ..runner.schema.vocabulary import DEFAULT_PASSWORD_SCHEME
from .command import Command
from .docker_exec import KEEP, exec_output
from .engine import engine_address
from .errors import ConfigRefused, ExecTimeout, HostNotReady, LabError, WaitTimeout, talking_to_the_engine
from .poll import NotYet, poll

log = logging.getLogger(__name__)
# Plaintext logins on the lab's published ports are intended (the lab has no TLS of its own).
warnings.filterwarnings("ignore", "Credentials are sent over an unencrypted connection", UserWarning)

# What the runner reaches from outside, through the lab's forwarder (lab/forwarder.py), whose
# ports are published on the engine's address only (lab/engine.py). ssh (root by key only) is
# for `capture --config` against a kept lab's host; doveadm (12345) serves the other lab
# machines and stays on the lab network.
PUBLISHED = {"smtp": 25, "pop3": 110, "imap": 143, "sieve": 4190, "mysql": 3306, "ssh": 22}
PROBE_USER = "maillab-probe"  # a lab-only Dovecot user that no userdb iteration lists
DB_USER = "maillab"  # the lab's own MariaDB account (dockerfiles/mailhost/maillab-entrypoint)
VMAIL_UID = 5000
VMAIL = "/var/vmail"


def vmail_home(address: str) -> str:
    """A user's home, as every host's userdb sets it (ISPmail's /var/vmail/%d/%n)."""
    local, domain = address.split("@", 1)
    return f"{VMAIL}/{domain}/{local}"

PASSWD_FILE = "/etc/dovecot/users"  # Dovecot's passwd-file user store
HOUSEKEEPING_TIMEOUT = 120  # seconds for the lab's own commands (a step sets its own)
# seconds a service that does not answer is asked again before it counts as down: a step's
# `doveadm reload` restarts Dovecot's services, and a snapshot right after it met IMAP
# refusing for a moment (recorded as not answering: 0 messages, then not_idempotent)
PROBE_SETTLE = 5.0
KILL_AFTER = 5  # seconds between a command's TERM and its KILL
NETWORK_TIMEOUT = 60  # seconds a protocol client waits for an answer


def timed_argv(command: Command, timeout: float) -> list[str]:
    """What runs in the container for `command`: under coreutils' timeout, which leads a
    process group of its own (so a fault can kill the command with all it started)."""
    return ["timeout", "-k", str(KILL_AFTER), str(int(timeout)), *command.argv]


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


@dataclass(frozen=True)
class HostSecrets:
    """Generated per lab: what the entrypoint puts into Dovecot's and MariaDB's configuration."""

    doveadm: str  # the same on every host: dsync over tcp needs it on both ends
    db: str
    probe: str
    # a live cutover: the PEM chain and key this host serves TLS with (from the lab's CA)
    tls: tuple[str, str] | None = None


@dataclass
class OwnConfig:
    """The admin's own configuration on a host, and what the lab did to run it."""

    folder: str
    changed: list[str] = field(default_factory=list)  # connect strings made to reach the lab's MariaDB
    made: list[str] = field(default_factory=list)  # paths it names that the lab made
    added: list[str] = field(default_factory=list)  # what the lab's own file adds
    problems: list[own_config.ConfigProblem] = field(default_factory=list)  # what the servers refused
    secrets: set[str] = field(default_factory=set)  # the admin's passwords in it: masked

    def refused(self, server: str) -> bool:
        return any(problem.server == server for problem in self.problems)

    def report(self) -> dict[str, object]:
        return {"folder": self.folder, "added": self.added, "changed": self.changed, "made": self.made,
                "refused": [problem.one_line() for problem in self.problems]}


def imap_login(port: int, user: str, password: str) -> IMAPClient:
    """An IMAP session on a host's port published on the engine's address."""
    client = IMAPClient(engine_address(), port=port, ssl=False, timeout=NETWORK_TIMEOUT)
    # Small IMAP commands through docker-proxy stall on Nagle's algorithm without this.
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.normalise_times = False
    try:
        client.login(user, password)
    except Exception:
        client.shutdown()
        raise
    return client


# Where a lab machine's resolver forwards the names Docker's own DNS (127.0.0.11) does not
# know: to the machine itself, where nothing forwards further (docs/security.md, "The sealed lab"). Left
# unset, Docker forwards them to the engine's resolvers.
NO_OUTSIDE_DNS = ["127.0.0.1"]


class LabContainer(DockerContainer):
    """What every lab container offers: a role on the lab network, commands run inside it,
    files in and out, and its log. Its services are reached through the lab's forwarder."""

    forwarder = None  # the lab's Forwarder, set by the lab

    def __init__(self, image: str, *, role: str, labels: dict[str, str], network: Network, name: str) -> None:
        super().__init__(image)
        self.role = role
        self.with_name(name)
        self.with_network(network).with_network_aliases(role)
        self.with_kwargs(labels=labels, hostname=role, dns=NO_OUTSIDE_DNS)
        # Without TZ, glibc's localtime() stats /etc/localtime at every call, and on this engine's
        # storage driver (fuse-overlayfs) a stat there took 0.13 ms: Dovecot's INTERNALDATE of
        # 10,000 messages, 1.4 s instead of 0.015 s. The same zone, read once per process; Dovecot
        # passes TZ on to its processes (import_environment's default).
        self.with_env("TZ", ":/etc/localtime")

    def get_exposed_port(self, port: int) -> int:
        """The port on the engine's address that leads to `port` here: the forwarder's."""
        if self.forwarder is None:
            return super().get_exposed_port(port)
        return self.forwarder.published(self.role, port)

    @talking_to_the_engine("starting the {0.role} machine")
    def start(self) -> LabContainer:
        return super().start()

    @talking_to_the_engine("looking at the {0.role} machine")
    def state(self) -> str:
        """Docker's state of the container ('running', 'exited', ...), 'removed' once it is gone
        (the lab is being torn down: whoever waits for it stops at once)."""
        container = self.get_wrapped_container()
        try:
            container.reload()
        except docker.errors.NotFound:
            return "removed"
        return container.status

    @talking_to_the_engine("looking at the {0.role} machine")
    def image_id(self) -> str:
        """The id of the image this machine runs (a tag may name another image tomorrow)."""
        return self.get_wrapped_container().attrs["Image"]

    @talking_to_the_engine("looking at the {0.role} machine")
    def address(self) -> str:
        """This machine's IPv4 address on the lab network."""
        return self._lab_network()["IPAddress"]

    @talking_to_the_engine("looking at the {0.role} machine")
    def subnet(self) -> str:
        """The lab network's IPv4 subnet, as this machine is on it (e.g. 172.20.0.0/16)."""
        network = self._lab_network()
        return str(ipaddress.ip_network(f"{network['IPAddress']}/{network['IPPrefixLen']}", strict=False))

    def _lab_network(self) -> dict:
        container = self.get_wrapped_container()
        container.reload()
        [network] = container.attrs["NetworkSettings"]["Networks"].values()
        return network

    @talking_to_the_engine("reading the log of the {0.role} machine")
    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.get_wrapped_container().logs(tail=lines).decode(errors="replace").strip()
        except docker.errors.NotFound:
            return "the container was removed"
        return "last log lines: " + " | ".join(text.splitlines())

    @talking_to_the_engine("reading the log of the {0.role} machine")
    def logs(self, since: float | None = None) -> str:
        """The container's log, or what it logged from the wall-clock time `since` on."""
        options = {"since": int(since)} if since is not None else {}
        return self.get_wrapped_container().logs(**options).decode(errors="replace")

    # -- commands and files ---------------------------------------------------------------
    @talking_to_the_engine("running a command on {0.role}")
    def run(self, command: Command, *, timeout: float = HOUSEKEEPING_TIMEOUT,
            env: dict[str, str] | None = None, workdir: str | None = None, keep: int | None = KEEP) -> ExecResult:
        """Run `command` as root; past `timeout` seconds it is killed (with its children:
        coreutils' timeout signals its whole process group) and ExecTimeout is raised. The
        runner stops waiting a little later in any case: a container whose processes are
        frozen kills nothing. Of each output stream the first and last `keep` bytes are kept
        (docker_exec); None keeps all."""
        log.debug("%s$ %s", self.role, command.shown())
        started = time.monotonic()
        argv = timed_argv(command, timeout)
        outcome: list = []

        def execute() -> None:
            try:
                outcome.append(exec_output(self.get_wrapped_container(), argv, environment=env, workdir=workdir,
                                           keep=keep))
            except Exception as error:  # noqa: BLE001  handed to the waiting thread
                outcome.append(error)
        worker = threading.Thread(target=execute, name=f"exec on {self.role}", daemon=True)
        worker.start()
        worker.join(timeout + 2 * KILL_AFTER)
        hung = f"'{command.shown()[:200]}' on {self.role} did not finish within {timeout:.0f} s"
        if not outcome:
            raise ExecTimeout(f"{hung} and does not answer")
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        exit_code, stdout, stderr = outcome[0]
        if exit_code in (124, 137) and time.monotonic() - started >= timeout:
            raise ExecTimeout(f"{hung} and was killed")
        return ExecResult(exit_code, stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    def run_checked(self, command: Command, what: str, **options) -> ExecResult:
        """The lab's own command, whose whole output the lab reads."""
        result = self.run(command, keep=None, **options)
        if result.exit_code != 0:
            raise LabError(f"{what} on '{self.role}' failed (exit {result.exit_code}): {result.output[-300:]}")
        return result

    @talking_to_the_engine("copying a file into {0.role}")
    def put_file(self, path: str, content: bytes, mode: int = 0o644, uid: int = 0) -> None:
        directory, _, name = path.rpartition("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(content), mode, uid, uid, time.time()
            tar.addfile(info, io.BytesIO(content))
        buffer.seek(0)  # streamed, not copied: a seed batch is 16 MB (seed.UPLOAD_BYTES)
        if not self.get_wrapped_container().put_archive(directory or "/", buffer):
            raise LabError(f"copying {path} into '{self.role}' failed")

    def extract(self, directory: str, archive: bytes) -> None:
        """Unpack a tar (or several, one after the other) into `directory` inside the host.
        Unlike put_archive this reaches tmpfs mounts such as /var/vmail, which `docker cp`
        writes underneath."""
        upload = "/tmp/maillab-upload.tar"
        self.put_file(upload, archive, mode=0o600)
        self.run_checked(Command.script('tar -C "$1" --ignore-zeros -xpf "$2"; unpacked=$?; rm -f "$2"; exit $unpacked',
                                        directory, upload, display=f"tar -C {directory} -xpf {upload}"),
                         f"unpacking files into {directory}")

    @talking_to_the_engine("copying files out of {0.role}")
    def save_archive(self, path: str, destination: Path) -> None:
        """`path` (a file or a folder) as Docker's tar of it, streamed into the file
        `destination`: a mail store may be larger than the runner should hold."""
        stream, _ = self.get_wrapped_container().get_archive(path)
        with destination.open("wb") as out:
            for chunk in stream:
                out.write(chunk)

    @talking_to_the_engine("copying files into {0.role}")
    def put_saved_archive(self, directory: str, archive: Path) -> None:
        """Unpack a tar that `save_archive` wrote into `directory` (not a tmpfs mount: see
        `extract`), streamed from the file."""
        with archive.open("rb") as data:
            if not self.get_wrapped_container().put_archive(directory, data):
                raise LabError(f"copying {archive.name} into '{self.role}' failed")

    @talking_to_the_engine("reading a file on {0.role}")
    def read_file(self, path: str) -> bytes:
        try:
            stream, _ = self.get_wrapped_container().get_archive(path)
        except docker.errors.NotFound:
            raise FileNotFoundError(f"{self.role}:{path}") from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member else None
            if extracted is None:
                raise LabError(f"'{self.role}:{path}' is not a file")
            return extracted.read()


class ToolContainer(LabContainer):
    """A machine on the lab network for migration tools and the user's own scripts: by default
    the new server's image (doveadm, mysql, rsync, ssh, mbsync at hand) with no services."""

    def __init__(self, image: str, **options) -> None:
        super().__init__(image, **options)
        self.with_kwargs(**self._kwargs, entrypoint=["sleep", "infinity"])

    def start(self) -> ToolContainer:
        super().start()
        if self.run(Command.of("true")).exit_code != 0:
            raise HostNotReady(f"the {self.role} machine does not run commands; {self.log_tail()}")
        return self


class MailServer:
    """The mail server's own tools, built on `run`, `put_file` and `read_file` only, so that
    the golden tests' fake host runs the same code."""

    role: str
    spec: HostSpec

    @functools.cached_property
    def dovecot_series(self) -> str:
        """'2.3' or '2.4': which configuration language this host's Dovecot speaks."""
        return self.read_file("/etc/dovecot/maillab-series").decode().strip()

    def password_hashes(self, passwords: list[str], schemes: list[str] | None = None) -> list[str]:
        """Hashes made by this host's own `doveadm pw -s SCHEME` (SHA512-CRYPT unless `schemes`
        names one per password), as Dovecot writes them: `{SCHEME}hash`. The passwords come in
        the environment, one a line, and reach doveadm on its stdin (it asks twice when not
        given -p) through the shell's own printf: no command line holds one (`ps` shows those)."""
        if not passwords:
            return []
        assert not any("\n" in password for password in passwords)  # the lab makes them URL-safe
        schemes = schemes or [DEFAULT_PASSWORD_SCHEME] * len(passwords)
        command = Command.script('printf "%s\\n" "$MAILLAB_PASSWORDS" | for scheme; do IFS= read -r p; '
                                 'printf "%s\\n%s\\n" "$p" "$p" | doveadm pw -s "$scheme" || exit; done', *schemes,
                                 secrets=passwords, display=f"doveadm pw -s SCHEME (each of {len(passwords)} passwords)")
        hashed = self.run_checked(command, "hashing passwords", env={"MAILLAB_PASSWORDS": "\n".join(passwords)})
        return hashed.stdout.splitlines()

    def wait_for_users(self, addresses: list[str], timeout: float = 10) -> None:
        """Wait until Dovecot's userdb knows every one of `addresses` (one `doveadm user` for
        all: it exits non-zero while any is unknown). Its passwd-file driver looks at the file
        at most once a second, so a lookup right after an edit can still see the old file."""
        def known() -> None:
            result = self.run(Command.of("doveadm", "user", "--", *addresses))
            if result.exit_code != 0:
                raise NotYet(f"doveadm user: exit {result.exit_code}")
        poll(f"{len(addresses)} users known to Dovecot on '{self.role}'", known, timeout=timeout, interval=0.1)

    def service(self, name: str, action: str) -> None:
        """Stop, start or restart one service of the host (dovecot, postfix, mariadb, sshd)."""
        self.run_checked(Command.of("supervisorctl", action, name), f"{action} {name}")

    def install_users_file(self, content: bytes) -> None:
        """/etc/dovecot/users for the passwd-file user store, readable by Dovecot, and
        Postfix's maps derived from it (dockerfiles/mailhost/maillab-postfix-maps)."""
        self.put_file(PASSWD_FILE, content, mode=0o640)
        self.run_checked(Command.of("chgrp", "dovecot", PASSWD_FILE), "making the user list readable to Dovecot")
        self.run_checked(Command.of("maillab-postfix-maps"), "updating Postfix's maps")

    def users_unknown(self, addresses: list[str]) -> set[str] | None:
        """Those of `addresses` that Dovecot's userdb does not know (doveadm user exits
        EX_NOUSER, 67, for a user that does not exist: measured on 2.3 and 2.4); one exec.
        None when the userdb cannot tell (its database down: the snapshot reports that)."""
        if not addresses:
            return set()
        result = self.run(Command.script(UNKNOWN_USERS, *addresses,
                                         display=f"doveadm user -- USER (each of {len(addresses)} users)"))
        return set(result.stdout.split()) if result.exit_code == 0 else None

    def homes_present(self, addresses: list[str]) -> set[str]:
        """The users that have a home here. Logging in creates one (and an INBOX), which makes
        a later `doveadm backup` of that user fail (65): look before touching."""
        found = self.run_checked(Command.of("find", VMAIL, "-mindepth", "2", "-maxdepth", "2", "-type", "d"),
                                 "listing homes").stdout.split("\n")
        return {address for address in addresses if vmail_home(address) in found}

    def stopped(self, services: list[str]) -> list[str]:
        """Those of `services` that supervisord does not have running: one supervisorctl for
        all (each is a Python start, 0.2 s)."""
        lines = self.run(Command.of("supervisorctl", "status", *services)).stdout.splitlines()
        states = {fields[0]: fields[1] for fields in map(str.split, lines) if len(fields) >= 2}
        return [service for service in services if states.get(service) != "RUNNING"]


# Prints each argument Dovecot's userdb does not know; any other failure of the lookup fails it.
UNKNOWN_USERS = """for user; do
    code=0; doveadm user -f uid -- "$user" >/dev/null || code=$?
    case $code in 0) ;; 67) printf '%s\\n' "$user" ;; *) exit "$code" ;; esac
done"""


# dovecot-core's Debian version, e.g. 1:2.4.1+dfsg1-6: its series is what the configuration language follows
DOVECOT_VERSION = re.compile(r"^(?:\d+:)?(?P<series>\d+\.\d+)")


# Host settings the image's entrypoint does not render go into a drop-in written at start, before
# the entrypoint runs: the mail host images (shared by parallel labs) stay as built.
SETTINGS_DROP_IN = "/etc/dovecot/maillab.d/25-host-settings.conf"
WRITE_SETTINGS_THEN_START = ('install -d -m 0755 "${1%/*}" && printf "%s\\n" "$MAILLAB_DOVECOT_SETTINGS" > "$1" '
                             '&& exec /usr/local/sbin/maillab-entrypoint')


def dovecot_settings(spec: HostSpec) -> list[str]:
    """The drop-in's lines for a host of `spec` (the schema lets each only where it applies)."""
    return ["auth_allow_weak_schemes = yes"] if spec.allow_weak_schemes else []


def _failing(checks: dict) -> dict[str, str]:
    """Each check that fails, with what the client saw."""
    failures = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:  # noqa: BLE001  whatever the client saw is the answer
            failures[name] = str(error) or type(error).__name__
    return failures


class Served:
    """A server's services as the runner reaches them: through the lab's forwarder, on the
    engine's address. SERVICES names those the server has; `secrets.probe` is the password of
    its lab-only user PROBE_USER."""

    SERVICES: tuple[str, ...] = ("IMAP", "POP3", "ManageSieve", "SMTP", "MariaDB")
    PROBE_LOGIN = PROBE_USER  # the lab-only user's login name on this server
    # the FETCH item that names a message whatever folder shows it: Dovecot's GUID (what dsync
    # matches by); None where the server has none
    GUID_ITEM: ClassVar[str | None] = "X-GUID"
    SSHD: ClassVar[bool] = True  # root logs in over ssh (script steps, a kept lab's hosts)
    role: str
    secrets: HostSecrets
    _published: dict[str, int]

    @talking_to_the_engine("asking for the ports of {0.role}")
    def port(self, service: str) -> int:
        """The port on the engine's address that leads to `service` (asked of Docker once per host)."""
        if not self._published:
            self._published.update({name: int(self.get_exposed_port(port)) for name, port in PUBLISHED.items()})
        return self._published[service]

    def imap(self, user: str, password: str) -> IMAPClient:
        return imap_login(self.port("imap"), user, password)

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP(engine_address(), self.port("smtp"), timeout=NETWORK_TIMEOUT)

    def pop3(self, user: str, password: str) -> poplib.POP3:
        pop = poplib.POP3(engine_address(), self.port("pop3"), timeout=NETWORK_TIMEOUT)
        try:
            pop.user(user)
            pop.pass_(password)
        except Exception:
            pop.close()
            raise
        return pop

    @contextmanager
    def managesieve(self, user: str, password: str):
        client = ManageSieveClient(engine_address(), self.port("sieve"))
        if not client.connect(user, password, authmech="PLAIN"):
            raise ConnectionRefusedError(f"ManageSieve login for {user} on '{self.role}' failed")
        try:
            yield client
        finally:
            client.logout()

    def probe(self) -> dict[str, str]:
        """Which of the services this server has (SERVICES: IMAP, POP3, ManageSieve, SMTP,
        MariaDB) do not answer a login (EHLO, a query), with what the client saw; empty when all
        of them work. One that fails is asked again for PROBE_SETTLE seconds before it counts."""
        checks = {name: check for name, check in self._service_checks().items() if name in self.SERVICES}
        failing = _failing(checks)

        def answered() -> None:
            nonlocal failing
            failing = _failing({name: checks[name] for name in failing})
            if failing:
                raise NotYet(", ".join(failing))
        if failing:
            try:
                poll(f"the services of {self.role} to answer", answered, timeout=PROBE_SETTLE, interval=0.5)
            except WaitTimeout:
                pass  # still not answering: that is the answer
        return failing

    def _service_checks(self) -> dict:
        def imap() -> None:
            with self.imap(self.PROBE_LOGIN, self.secrets.probe):
                pass

        def pop3() -> None:
            self.pop3(self.PROBE_LOGIN, self.secrets.probe).quit()

        def managesieve() -> None:
            with self.managesieve(self.PROBE_LOGIN, self.secrets.probe):
                pass

        def smtp() -> None:
            with self.smtp() as client:
                if client.ehlo("maillab")[0] != 250:
                    raise ConnectionError("EHLO refused")

        def mariadb() -> None:
            with self.db() as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        return {"IMAP": imap, "POP3": pop3, "ManageSieve": managesieve, "SMTP": smtp, "MariaDB": mariadb}


class MailHostContainer(Served, MailServer, LabContainer):
    def __init__(self, image: str, *, spec: HostSpec, secrets: HostSecrets, **options) -> None:
        super().__init__(image, **options)
        self.spec = spec
        self.secrets = secrets
        self._published: dict[str, int] = {}
        self.own: OwnConfig | None = None
        self.with_envs(
            # the admin's own store comes with their own configuration, which replaces maillab's
            MAILLAB_USER_STORE="sql" if spec.own_store else spec.user_store,
            MAILLAB_MAIL_FORMAT=spec.mail_format,
            MAILLAB_NAMESPACE=spec.namespace,
            MAILLAB_SPECIAL_FOLDERS=spec.special_folders,
            MAILLAB_COMPRESSION=spec.compression,
            MAILLAB_POP3_UIDL_FORMAT=spec.pop3_uidl_format or "",
            MAILLAB_LAYOUT=spec.layout or "",
            MAILLAB_STORAGE_ESCAPE_CHAR=spec.storage_escape_char or "",
            MAILLAB_VISIBLE_ESCAPE_CHAR=spec.mailbox_list_visible_escape_char or "",
            MAILLAB_DOVEADM_PASSWORD=secrets.doveadm,
            MAILLAB_DB_PASSWORD=secrets.db,
            MAILLAB_PROBE_PASSWORD=secrets.probe,
        )
        if secrets.tls:
            self.with_envs(MAILLAB_TLS_CERT=secrets.tls[0], MAILLAB_TLS_KEY=secrets.tls[1])
        if spec.mail_store == "memory":
            # A lab is thrown away, and the engine's storage driver here (fuse-overlayfs)
            # writes thousands of small Maildir files twenty times slower than a tmpfs.
            self.tmpfs[VMAIL] = f"mode=0770,uid={VMAIL_UID},gid={VMAIL_UID},size={spec.mail_store_mb}m"
        else:  # a disk of its own: a volume outlives a restart and bypasses the storage driver
            self.with_kwargs(**self._kwargs, mounts=[Mount(VMAIL, None, type="volume", labels=options["labels"])])
        if spec.config:  # the host waits for the admin's files and the lab's additions (lab/own_config.py)
            self.with_kwargs(**self._kwargs, entrypoint=["sh", "-c", own_config.START])
        elif settings := dovecot_settings(spec):  # maillab's own configuration, with a host's knobs
            self.with_envs(MAILLAB_DOVECOT_SETTINGS="\n".join(settings))
            self.with_kwargs(**self._kwargs, entrypoint=["sh", "-c", WRITE_SETTINGS_THEN_START, "sh", SETTINGS_DROP_IN])

    def start(self) -> MailHostContainer:
        super().start()
        if self.spec.config:
            self.own = self._own_config()
        return self

    def _own_config(self) -> OwnConfig:
        """Put the admin's configuration in place, make the paths it names, find what Dovecot
        and Postfix refuse in it, and add what the lab needs; then the host starts its services."""
        staged = own_config.stage(config_files(Path(self.spec.config)), self.secrets.db, self.spec.own_store)
        own = OwnConfig(self.spec.config, changed=staged.changed, secrets=staged.secrets)
        if (store := self.spec.own_store) and store.kind in SQL_KINDS and \
                (mismatch := own_config.database_mismatch(staged, store.database)):
            raise ConfigRefused(f"hosts.{self.role}.user_store.database: {mismatch} (in {self.spec.config})")
        own_config.put_staged(self, staged)

        def installed() -> None:
            if self.state() != "running":
                raise HostNotReady(f"host '{self.role}' exited while taking the admin's configuration; "
                                   f"{self.log_tail()}")
            if self.run(Command.of("test", "-e", "/run/maillab-installed")).exit_code != 0:
                raise NotYet("the admin's configuration is not in place yet")
        poll(f"host '{self.role}' taking the admin's configuration", installed, timeout=60, interval=0.1)
        self._look_and_add(own, staged)
        if own.problems and self.role == "old":
            more = f" (and {len(own.problems) - 1} more)" if len(own.problems) > 1 else ""
            raise ConfigRefused(f"hosts.old.config: {own.problems[0].one_line(own.folder)}{more}: the lab cannot "
                                "stand in for the admin's old server")
        self._add_for_the_lab(own)
        return own

    def take_upgraded_config(self, folder: str | None) -> OwnConfig:
        """After an upgrade in place (dist_upgrade): the admin's configuration for the new
        suite from `folder`, or else what dpkg and ucf kept in /etc, becomes what the host
        starts with (lab/own_config.py's START installs it at every boot); what the upgraded
        Dovecot and Postfix refuse in it is found, and the lab's additions are made in the new
        Dovecot's language. The host's next boot runs it."""
        own = self.own
        assert own is not None  # the schema lets a dist_upgrade change only the admin's own configuration
        self.__dict__.pop("dovecot_series", None)  # the upgrade may have brought another Dovecot
        self.put_file("/etc/dovecot/maillab-series", f"{self.installed_dovecot_series()}\n".encode())
        if folder:
            staged = own_config.stage(config_files(Path(folder)), self.secrets.db, self.spec.own_store)
            # the folder's Postfix files replace the old ones; without any, Postfix's stay as they were
            replaced = ["dovecot", *(["postfix"] if any(p.startswith("postfix/") for p in staged.files) else [])]
            self.run_checked(Command.of("rm", "-rf", *(f"{own_config.OWN}/{server}" for server in replaced)),
                             "removing the configuration of the old suite")
            own_config.put_staged(self, staged)
            self.run_checked(Command.script(own_config.INSTALL, display="installing the admin's configuration"),
                             "installing the admin's configuration")
            own.folder, own.changed, own.secrets = folder, staged.changed, own.secrets | staged.secrets
        else:
            self.run_checked(Command.script(own_config.KEEP_INSTALLED, display="keeping what dpkg kept in /etc"),
                             "keeping the configuration dpkg kept")
            staged = own_config.Staged(files={"postfix/main.cf": self.read_file("/etc/postfix/main.cf")})
        self._look_and_add(own, staged)
        self._add_for_the_lab(own)
        return own

    def config_taken(self) -> bool:
        """Whether Dovecot and Postfix take the configuration now in /etc (a step may have mended
        what they refused): their own checks, which change nothing."""
        return (self.run(Command.of("doveconf", "-n")).exit_code == 0
                and self.run(own_config.POSTFIX_CHECK).exit_code == 0)

    def installed_dovecot_series(self) -> str:
        """'2.3' or '2.4', from the installed dovecot-core's version (as the image's build reads it)."""
        version = self.run_checked(Command.of("dpkg-query", "-W", "-f=${Version}", "dovecot-core"),
                                   "asking dpkg for Dovecot's version").stdout
        return DOVECOT_VERSION.match(version).group("series")

    def _look_and_add(self, own: OwnConfig, staged: own_config.Staged) -> None:
        """Make the paths the configuration in /etc names, and find what Dovecot and Postfix refuse in it."""
        if named := own_config.named_paths(staged.files):
            made = set(self.run_checked(Command.script(own_config.MAKE_PATHS, *(f"{n.kind}:{n.path}" for n in named),
                                                       display="making the paths the configuration names"),
                                        "making the paths the configuration names").stdout.split())
            first = {n.path: n.where for n in reversed(named)}  # where each path is named first
            own.made = [f"{path} ({where})" for path, where in reversed(first.items()) if path in made]
        own.problems = own_config.problems(self, staged)

    def _add_for_the_lab(self, own: OwnConfig) -> None:
        """What the lab adds to the configuration (its file, Postfix's settings, the user store's
        boot), then the mark the host's start waits for."""
        doveconf = "" if own.refused("dovecot") else self.run_checked(Command.of("doveconf", "-n"),
                                                                      "reading the configuration").stdout
        text, own.added = own_config.lab_additions(doveconf, self.dovecot_series, self.secrets.doveadm,
                                                   own_config.PROBE_FILE, tls=bool(self.secrets.tls))
        cert_file = "" if own.refused("postfix") else self.run_checked(
            Command.of("postconf", "-h", "smtpd_tls_cert_file"), "reading Postfix's configuration").stdout.strip()
        postfix, added = own_config.postfix_additions(cert_file, tls=bool(self.secrets.tls))
        own.added += added
        if postfix:
            self.put_file(own_config.POSTFIX_LAB, postfix.encode(), mode=0o600)
        directory = f"{own_config.OWN}/lab{own_config.LAB_FILE.rpartition('/')[0]}"
        self.run_checked(Command.of("mkdir", "-p", directory), "making the folder of the lab's additions")
        self.put_file(f"{own_config.OWN}/lab{own_config.LAB_FILE}", text.encode(), mode=0o640)
        if (store := self.spec.own_store) and (boot := store_of(store).boot_script):
            # the database is a checked name (UserStoreSpec): quoted, it is one word to the script
            self.put_file(own_config.STORE_BOOT, f"set -- {shlex.quote(store.database)}\n{boot}".encode(), mode=0o700)
            self.run_checked(Command.of("sh", own_config.STORE_BOOT), f"making the {store.kind} user store")
        self.put_file(f"{own_config.OWN}/ready", b"")

    def wait_until_ready(self, timeout: float = 90) -> None:
        # a configuration Dovecot or Postfix refused (on new: the migration's finding) starts
        # no service to wait for
        smtp_down = self.own is not None and self.own.refused("postfix")
        imap_down = self.own is not None and self.own.refused("dovecot")

        def ready() -> None:
            if self.state() != "running":
                raise HostNotReady(f"host '{self.role}' exited during start-up; {self.log_tail()}")
            with self.db() as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            if not smtp_down:
                with smtplib.SMTP(engine_address(), self.port("smtp"), timeout=5) as smtp:
                    if smtp.ehlo("maillab")[0] != 250:
                        raise NotYet("SMTP does not answer EHLO yet")
            if not imap_down:
                with self.imap(PROBE_USER, self.secrets.probe):
                    pass
        try:
            # polled often: a host is ready ~2 s after it starts, and every rehearsal waits for two
            poll(f"host '{self.role}' (MariaDB query, SMTP EHLO, IMAP LOGIN)", ready, timeout=timeout, interval=0.05)
            if store := self.spec.own_store:  # the admin's own user store: its schema, once
                store_of(store).start(self, store, self.secrets.db)
        except (HostNotReady, ConfigRefused):
            raise
        except LabError as error:
            raise HostNotReady(f"{error}; {self.log_tail()}") from None

    def db(self, database: str | None = None) -> pymysql.Connection:
        """The lab's MariaDB account over the published port: SQL goes through parameters."""
        return pymysql.connect(host=engine_address(), port=self.port("mysql"), user=DB_USER, password=self.secrets.db,
                               database=database, charset="utf8mb4", autocommit=True, connect_timeout=10,
                               read_timeout=NETWORK_TIMEOUT, write_timeout=NETWORK_TIMEOUT)

