"""A fake lab for the golden tests: hosts that record every command (as the argv a shell would
need to run it, so quoting shows) and every file written, and answer from a small table.

FakeHost runs the real MailServer code (lab/containers.py); only run, put_file and read_file
are fakes. Nothing here starts a container.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from maillab.lab.command import Command
from maillab.lab.containers import ExecResult, MailServer, OwnConfig
from maillab.lab.servers import server_classes
from maillab.lab.errors import LabError
from maillab.lab.internet import Nameserver
from maillab.runner.schema.scenario import HostSpec

# What changes from run to run: generated key bodies, random parts of Message-IDs.
RANDOM = ((re.compile(r"[A-Za-z0-9+/=]{40,}"), "<key>"), (re.compile(r"\.[0-9a-f]{8}@maillab\.invalid"), ".<random>@maillab.invalid"))
FRESH = "/root/.ssh/"
# Canned answers: the start of an argv -> (exit code, stdout)
ANSWERS = {
    ("mbsync", "--version"): (0, "isync 1.4.4\n"),
    ("ssh-keyscan",): (0, "# old:22 SSH-2.0-OpenSSH\nold ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld\n"
                          "new ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINew\n"),
}


@dataclass
class Transcript:
    """What the steps did, in order. Secrets stay readable (the fake lab's are fixed words), so
    a password passed to the wrong place shows; masking is tested on the step results."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        for pattern, replacement in RANDOM:
            line = pattern.sub(replacement, line)
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)


class FakeHost(MailServer):
    def __init__(self, role: str, transcript: Transcript, spec: HostSpec | None = None,
                 exits: dict[str, int] | None = None) -> None:
        self.role, self.spec, self.transcript = role, spec, transcript
        self.SSHD = spec is None or spec.server == "dovecot" or server_classes()[spec.server].SSHD
        # a command line's start -> the exit code it gets (or the codes of its runs, in turn)
        self.exits = {start: list(code) if isinstance(code, list) else code for start, code in (exits or {}).items()}
        self.own = OwnConfig(spec.config) if spec and spec.config else None
        series = "2.4" if spec and spec.suite == "trixie" else "2.3"
        self.files: dict[str, bytes] = {"/etc/dovecot/maillab-series": series.encode() + b"\n"}
        if series == "2.4":  # the image's own first line (dockerfiles/mailhost/dovecot-2.4/dovecot.conf)
            self.files["/etc/dovecot/dovecot.conf"] = b"dovecot_config_version = 2.4.0\n"

    def take_upgraded_config(self, folder: str | None) -> OwnConfig:
        """The configuration work of lab/containers.py's own (its own tests cover it), recorded."""
        self.transcript.add(f"(the configuration for the new suite: {folder or 'what dpkg kept'})")
        return OwnConfig(folder or "kept")

    def run(self, command: Command, *, timeout: float = 0, env: dict[str, str] | None = None,
            workdir: str | None = None) -> ExecResult:
        line = shlex.join(command.argv)
        where = f" (in {workdir})" if workdir else ""
        self.transcript.add(f"{self.role}$ {line}{where}")
        for name, value in sorted((env or {}).items()):
            self.transcript.add(f"{self.role}   env {name}={value}")
        if command.argv[:2] == ("sh", "-c") and "doveadm pw" in command.argv[2]:  # password_hashes
            hashes = "".join(f"{{SHA512-CRYPT}}hash-of-{n}\n" for n in range(len(env["MAILLAB_PASSWORDS"].split("\n"))))
            return ExecResult(0, hashes, "")
        for start, (code, output) in ANSWERS.items():
            if command.argv[:len(start)] == start:
                return ExecResult(code, output, "")
        code = next((code for start, code in self.exits.items() if line.startswith(start)), 0)
        if isinstance(code, list):
            code = code.pop(0) if code else 0
        if code:
            self.transcript.add(f"  -> exit {code}")
        return ExecResult(code, "", "")

    def run_checked(self, command: Command, what: str, **options) -> ExecResult:
        result = self.run(command, **options)
        if result.exit_code != 0:
            raise LabError(f"{what} failed")
        return result

    def put_file(self, path: str, content: bytes, mode: int = 0o644, uid: int = 0) -> None:
        self.files[path] = content
        text = content.decode(errors="replace")
        if "PRIVATE KEY" in text:
            body = ["<private key>"]
        elif text.startswith("#!"):  # a program of the project's (its own tests read it): its name says it
            body = [f"<a program: {text.splitlines()[0]}>"]
        else:
            body = [f"  | {line}" for line in text.splitlines()]
        self.transcript.add(f"{self.role}: write {path} ({mode:04o})")
        for line in body:
            self.transcript.add(line if line.startswith("  |") else f"  | {line}")

    def read_file(self, path: str) -> bytes:
        """What the fake wrote or was given; a file a command would have made reads as a
        placeholder; on a fresh host /root/.ssh holds nothing."""
        if path in self.files:
            return self.files[path]
        if path.startswith(FRESH):
            raise FileNotFoundError(path)
        return f"<{path} as the command left it>\n".encode()

    def address(self) -> str:
        return {"old": "192.0.2.10", "new": "192.0.2.20"}.get(self.role, "192.0.2.99")

    # -- what the cutover steps reach over the network ------------------------------------
    def imap(self, user: str, password: str):
        return FakeImap(self, user)

    def smtp(self):
        return FakeSmtp(self)


class FakeImap:
    def __init__(self, host: FakeHost, user: str) -> None:
        self.host, self.user = host, user

    def __enter__(self) -> FakeImap:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _say(self, text: str) -> None:
        self.host.transcript.add(f"{self.host.role} imap {self.user}: {text}")

    def select_folder(self, folder: str, readonly: bool = False) -> None:
        self._say(f"{'EXAMINE' if readonly else 'SELECT'} {folder}")

    def search(self, criteria) -> list[int]:
        self._say(f"SEARCH {' '.join(criteria) if isinstance(criteria, list) else criteria}")
        return [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

    def add_flags(self, uids: list[int], flags: list[str]) -> None:
        self._say(f"STORE {','.join(map(str, uids))} +FLAGS ({' '.join(flags)})")

    def remove_flags(self, uids: list[int], flags: list[str]) -> None:
        self._say(f"STORE {','.join(map(str, uids))} -FLAGS ({' '.join(flags)})")


class FakeSmtp:
    def __init__(self, host: FakeHost) -> None:
        self.host = host

    def __enter__(self) -> FakeSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def send_message(self, message) -> None:
        self.host.transcript.add(f"{self.host.role} smtp: to {message['To']}: {message['Subject']}")


class FakeDns(Nameserver, FakeHost):
    pass


class FakeLab:
    def __init__(self, hosts: dict[str, HostSpec], exits: dict[str, int] | None = None) -> None:
        self.transcript = Transcript()
        self.hosts = {role: FakeHost(role, self.transcript, spec, exits) for role, spec in hosts.items()}
        self.tools: dict[str, FakeHost] = {}
        self.dns = FakeDns("dns", self.transcript)
        self.sender = FakeHost("sender", self.transcript)
        self.id = "mlfake"
        self.secrets: set[str] = set()
        self.doveadm_password = self.new_secret()

    def new_secret(self, length: int = 18) -> str:
        value = f"secret{len(self.secrets) + 1}"
        self.secrets.add(value)
        return value

    def __getitem__(self, role: str) -> FakeHost:
        return self.hosts[role]

    def container(self, role: str) -> FakeHost:
        return self.tool_machine(role) if role == "migrator" else self.hosts[role]

    def tool_machine(self, role: str, image: str | None = None) -> FakeHost:
        return self.tools.setdefault(role, FakeHost(role, self.transcript, self.hosts["new"].spec))

    def reboot(self, role: str) -> float:
        self.transcript.add(f"(reboot {role}, until it is ready)")
        return 0.0

    def imapsync_machine(self, script) -> FakeHost:
        self.transcript.add(f"(the imapsync image, built from {script.name})")
        return self.tool_machine("imapsync")
