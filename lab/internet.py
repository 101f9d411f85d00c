"""The internet around the mail servers, for a live cutover (one image, dockerfiles/internet):

DnsServer: BIND 9, authoritative for the scenario's domains and nothing else (no recursion,
no forwarding). Each domain has `mail.<domain>` (the name clients and the MX use), `old.` and
`new.<domain>` (each server's own name) and an MX; a step changes them with nsupdate.

SendingMta: Postfix as any MTA on the internet, resolving MX through its own Unbound cache
(which keeps every answer for its TTL), queueing, deferring and retrying. Its log
(/var/log/postfix.log) and queue (`postqueue -j`) tell each message's fate.

Both are ready when they do real work: the DNS answers the zones' SOA, the sender's resolver
answers an MX through the DNS and its SMTP answers EHLO.
"""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass

from .command import Command
from .containers import HostNotReady, LabContainer
from .engine import engine_address
from .errors import LabError, WaitTimeout
from .poll import NotYet, poll

ZONES_CONF = "/etc/bind/maillab-zones.conf"
ZONE_DIR = "/var/lib/bind"
FORWARD_CONF = "/etc/unbound/maillab-forward.conf"
MAIL_LOG = "/var/log/postfix.log"
SMTP_PORT = 25
READY_TIMEOUT = 60


@dataclass(frozen=True)
class Zone:
    """One domain's records as the lab starts them: the MX and mail.<domain> point at old."""

    domain: str
    addresses: dict[str, str]  # 'old', 'new' -> the host's address on the lab network
    ttl: int  # of every record, in lab seconds

    def text(self, dns_address: str) -> str:
        old = self.addresses["old"]
        names = "".join(f"{role} IN A {address}\n" for role, address in sorted(self.addresses.items()))
        # SOA minimum 1: a name that did not exist is not cached for longer than a second
        return (f"$TTL {self.ttl}\n"
                f"@ IN SOA ns.{self.domain}. hostmaster.{self.domain}. 1 60 10 3600 1\n"
                f"@ IN NS ns.{self.domain}.\n"
                f"ns IN A {dns_address}\n{names}"
                f"mail IN A {old}\n"
                f"@ IN MX 10 mail.{self.domain}.\n")


def postfix_queue(machine) -> list[dict]:
    """The messages in a machine's Postfix queue (`postqueue -j`: one JSON object per line)."""
    output = machine.run_checked(Command.of("postqueue", "-j"), f"listing the queue on {machine.role}").stdout
    try:
        return [json.loads(line) for line in output.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise LabError(f"postqueue -j on {machine.role} printed something else than JSON: {error}") from None


def flush_postfix_queue(machine) -> None:
    """Ask a machine's Postfix to try everything in its queue now (`postqueue -f`)."""
    machine.run_checked(Command.of("postqueue", "-f"), f"flushing the queue on {machine.role}")


def drain_postfix_queue(machine, within: float) -> list[dict]:
    """Flush a machine's Postfix queue until it is empty or `within` seconds passed; returns
    what is still queued then (nothing: drained)."""
    def empty() -> None:
        flush_postfix_queue(machine)
        if queued := postfix_queue(machine):
            raise NotYet(f"{len(queued)} messages queued")
    try:
        poll(f"the queue on {machine.role} to drain", empty, timeout=within, interval=0.5)
    except WaitTimeout:
        return postfix_queue(machine)
    return []


def _running(container: LabContainer) -> None:
    if container.state() != "running":
        raise HostNotReady(f"the {container.role} machine exited; {container.log_tail()}")


class InternetMachine(LabContainer):
    """Booted when supervisord answers; its programs start once configured."""

    def wait_until_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def supervising() -> None:
            _running(self)
            if self.run(Command.of("supervisorctl", "pid")).exit_code != 0:
                raise NotYet("supervisord does not answer yet")
        poll(f"the {self.role} machine (supervisord)", supervising, timeout=timeout, interval=0.25)


class Nameserver:
    """What the DNS machine does for a step, on `run_checked` and `put_file` only (so that the
    golden tests' fake runs this code)."""

    def update(self, zone: str, name: str, rtype: str, values: list[str], ttl: int) -> None:
        """Replace every `rtype` record of `name` with `values` (nsupdate on the DNS machine
        itself: the zones take updates from 127.0.0.1 only)."""
        lines = ["server 127.0.0.1", f"zone {zone}", f"update delete {name} {rtype}",
                 *(f"update add {name} {ttl} {rtype} {value}" for value in values), "send", ""]
        self.put_file("/tmp/maillab-update", "\n".join(lines).encode())
        self.run_checked(Command.of("nsupdate", "/tmp/maillab-update"), f"nsupdate {name} {rtype}")


class DnsServer(Nameserver, InternetMachine):
    def serve(self, zones: list[Zone]) -> None:
        """Write the zones, start BIND and wait until it answers each zone's SOA."""
        for zone in zones:
            self.put_file(f"{ZONE_DIR}/db.{zone.domain}", zone.text(self.address()).encode())
        self.put_file(ZONES_CONF, "".join(
            f'zone "{zone.domain}" {{ type primary; file "{ZONE_DIR}/db.{zone.domain}"; allow-update {{ 127.0.0.1; }}; }};\n'
            for zone in zones).encode())
        self.run_checked(Command.of("chown", "-R", "bind:bind", ZONE_DIR), "handing the zones to BIND")
        self.run_checked(Command.of("supervisorctl", "start", "named"), "starting BIND")

        def answers() -> None:
            _running(self)
            for zone in zones:
                if not self.run(Command.of("dig", "+short", "+time=1", "@127.0.0.1", zone.domain, "SOA")).stdout.strip():
                    raise NotYet(f"no SOA for {zone.domain} yet")
        poll("the lab's DNS (SOA of each zone)", answers, timeout=READY_TIMEOUT, interval=0.25)


class SendingMta(InternetMachine):
    def __init__(self, image: str, **options) -> None:
        super().__init__(image, **options)
        self._port: int | None = None

    def use_dns(self, dns_address: str, probe_domain: str) -> None:
        """Resolve through Unbound, which asks the lab's DNS only; start it and Postfix and wait
        until an MX of `probe_domain` resolves and SMTP answers EHLO."""
        self.put_file(FORWARD_CONF, f'forward-zone:\n    name: "."\n    forward-addr: {dns_address}\n'.encode())
        # Docker bind-mounts resolv.conf: rewrite it in place
        self.run_checked(Command.script('echo "nameserver 127.0.0.1" > /etc/resolv.conf'), "pointing at Unbound")
        # the image relays for anyone (mynetworks 0.0.0.0/0); only the lab's own network may hand it
        # mail: the runner's SMTP comes in through the lab's side of the published port
        self.run_checked(Command.of("postconf", "-e", f"mynetworks={self.subnet()}"), "narrowing mynetworks")
        for program in ("unbound", "postfix"):
            self.run_checked(Command.of("supervisorctl", "start", program), f"starting {program}")

        def ready() -> None:
            _running(self)
            if not self.run(Command.of("dig", "+short", "+time=1", "@127.0.0.1", probe_domain, "MX")).stdout.strip():
                raise NotYet(f"Unbound does not resolve the MX of {probe_domain} yet")
            with smtplib.SMTP(engine_address(), self.smtp_port(), timeout=5) as smtp:
                if smtp.ehlo("maillab")[0] != 250:
                    raise NotYet("SMTP does not answer EHLO yet")
        poll("the sending MTA (MX through its resolver, SMTP EHLO)", ready, timeout=READY_TIMEOUT, interval=0.25)

    def smtp_port(self) -> int:
        if self._port is None:
            self._port = int(self.get_exposed_port(SMTP_PORT))
        return self._port

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP(engine_address(), self.smtp_port(), timeout=30)

    def mail_log(self) -> str:
        try:
            return self.read_file(MAIL_LOG).decode(errors="replace")
        except FileNotFoundError:
            return ""

