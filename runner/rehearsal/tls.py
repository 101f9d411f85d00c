"""TLS like production, for a live cutover: a CA made per lab, the certificate old serves for
the name clients use (`mail.<domain>`, every domain in one certificate, where certbot keeps
it), the one new has before the cutover (for its own name, `new.<domain>`), and the check
after it: `mail.<domain>` must point at new in the lab's DNS, and a client on the internet
connecting there by that name (SNI) must verify the certificate against the lab's CA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trustme

from ...lab.command import Command
from .state import TlsCheck

if TYPE_CHECKING:
    from ...lab.lab import Lab

CA_FILE = "/etc/maillab/ca.pem"
# What clients use, by service: port and the STARTTLS dialogue (None: TLS from the first byte)
SERVICES = {"IMAP": (143, "imap"), "IMAPS": (993, None), "POP3": (110, "pop3"), "POP3S": (995, None),
            "SMTP": (25, "smtp")}
CHECK_TIMEOUT = 20


def client_name(domain: str) -> str:
    return f"mail.{domain}"


def make_certificates(domains: list[str]) -> tuple[str, dict[str, tuple[str, str]]]:
    """The lab's CA (PEM) and, per host, the PEM chain and key it serves."""
    ca = trustme.CA(organization_name="maillab lab CA")

    def issued(*names: str) -> tuple[str, str]:
        cert = ca.issue_cert(*names)
        return "".join(pem.bytes().decode() for pem in cert.cert_chain_pems), cert.private_key_pem.bytes().decode()
    return ca.cert_pem.bytes().decode(), {"old": issued(*map(client_name, domains)),
                                          "new": issued(*(f"new.{domain}" for domain in domains))}


def check_names(lab: Lab, domains: list[str]) -> list[TlsCheck]:
    """From the sender (a machine on the internet): each domain's client name must point at
    new in the lab's DNS (as it does now, not as a cache may still say), and every mail service
    there must pass certificate verification by that name."""
    sender, new_address = lab.sender, lab["new"].address()
    checks = []
    for name in map(client_name, domains):
        resolved = sender.run(Command.of("dig", "+short", "+time=2", f"@{lab.dns.address()}", name, "A")).stdout.split()
        if resolved != [new_address]:
            checks += [TlsCheck(name, service, False, f"{name} resolves to {', '.join(resolved) or 'nothing'}, "
                                f"not to new ({new_address})") for service in SERVICES]
            continue
        for service, (port, starttls) in SERVICES.items():
            command = Command.of("openssl", "s_client", "-connect", f"{new_address}:{port}", "-servername", name,
                                 "-verify_hostname", name, "-CAfile", CA_FILE, "-verify_return_error", "-brief",
                                 *(["-starttls", starttls] if starttls else []))
            result = sender.run(command, timeout=CHECK_TIMEOUT)
            seen = [line for line in result.output.splitlines() if "erify" in line or "error" in line.lower()]
            checks.append(TlsCheck(name, service, result.exit_code == 0,
                                   "; ".join(seen[:3]) or f"openssl s_client exit {result.exit_code}"))
    return checks
