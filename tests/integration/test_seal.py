"""The lab is sealed (docs/security.md, "The sealed lab"): from every kind of machine a lab runs, a name
outside the lab does not resolve and a TCP connection to an address outside fails at once,
refused on the machine itself (no route, or the forwarder's own firewall), so no packet
leaves; while the runner still reaches every published service on 127.0.0.1.

The lab is a live cutover's (its internet configured as a rehearsal configures it), so the
DNS and sending machines are in it too. The outside name is the Debian mirror this machine
already uses: the test resolves it here (the control: the name exists) and connects nowhere.
The outside address is a documentation address (RFC 5737) on none of this machine's networks
(here TEST-NET-1 is the machine's own gateway), and no connection is tried before the lab shows
its seal: an internal network without a gateway address, and the forwarder's firewall."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import psutil
import pytest

from maillab.lab.command import Command
from maillab.lab.engine import engine_address
from maillab.lab.lab import Lab
from maillab.runner.schema.loader import load_scenario
from maillab.runner.rehearsal.traffic import open_internet

SCENARIO = Path("scenarios/ispmail-cutover.yaml")
OUTSIDE_NAME = "deb.debian.org"
DOCUMENTATION = ("192.0.2.1", "198.51.100.1", "203.0.113.1")  # TEST-NET-1, -2, -3 (RFC 5737)


def outside_address() -> str:
    """A documentation address on none of this machine's own networks: nothing answers there."""
    own = [ipaddress.ip_interface(f"{a.address}/{a.netmask}").network
           for addresses in psutil.net_if_addrs().values() for a in addresses
           if a.family == socket.AF_INET and a.netmask]
    return next(address for address in DOCUMENTATION if not any(ipaddress.ip_address(address) in n for n in own))


OUTSIDE = (outside_address(), 25)
CONNECT_S = 10  # a refusal comes at once, or after the ARP attempts (about 3 s) on the lab network
REFUSED_HERE = ("No route to host", "Network is unreachable")  # what the machine's own kernel answers

# (machine, how the test finds it in the lab, a lab name that machine resolves: its resolver works)
MACHINES = [
    ("mail host old (Debian 11)", lambda lab: lab["old"], "new"),
    ("mail host new (Debian 12)", lambda lab: lab["new"], "old"),
    ("tool machine (migrator)", lambda lab: lab.tool_machine("migrator"), "old"),
    ("forwarder", lambda lab: lab.forwarder, "old"),
    ("dns", lambda lab: lab.dns, "old"),
    # resolves through its own Unbound, which asks the lab's DNS only
    ("sender", lambda lab: lab.sender, "mail.example.org"),
]


@pytest.fixture(scope="module")
def lab(images):
    scenario = load_scenario(SCENARIO)
    with Lab(dict(scenario.hosts), internet=True, scenario="seal") as lab:
        open_internet(lab, scenario, ca="")
        assert_sealed(lab)  # before any machine tries the outside address
        yield lab


def assert_sealed(lab):
    network = lab.client.networks.get(lab.network.id).attrs
    assert network["Internal"] and network["Options"]["com.docker.network.bridge.inhibit_ipv4"] == "true"
    rules = lab.forwarder.run(Command.of("iptables", "-S", "OUTPUT")).stdout.splitlines()
    assert rules[0] == "-P OUTPUT DROP" and rules[-1].endswith("-j REJECT --reject-with icmp-admin-prohibited"), rules


def test_the_outside_name_exists():
    """The control: from this machine the name resolves, so failing in the lab is the seal."""
    assert socket.getaddrinfo(OUTSIDE_NAME, None, type=socket.SOCK_STREAM)


@pytest.mark.parametrize(("find", "lab_name"), [row[1:] for row in MACHINES], ids=[row[0] for row in MACHINES])
def test_a_lab_machine_reaches_nothing_outside(lab, find, lab_name):
    machine = find(lab)
    resolved = machine.run(Command.of("getent", "hosts", lab_name))
    assert resolved.exit_code == 0, f"{lab_name} should resolve in the lab: {resolved.output}"
    outside = machine.run(Command.of("getent", "hosts", OUTSIDE_NAME))
    assert (outside.exit_code, outside.stdout) == (2, ""), outside.output  # 2: not found
    address, port = OUTSIDE
    connect = machine.run(Command.of("bash", "-c", 'exec 3<>"/dev/tcp/$1/$2"', "bash", address, str(port)),
                          timeout=CONNECT_S)
    assert connect.exit_code == 1 and any(reason in connect.stderr for reason in REFUSED_HERE), connect.output


def test_the_runner_reaches_every_service_on_the_engines_address(lab):
    assert engine_address() == "127.0.0.1"
    for role in ("old", "new"):
        assert lab[role].probe() == {}, role
    with lab.sender.smtp() as smtp:
        assert smtp.ehlo("maillab")[0] == 250


def test_only_the_forwarder_publishes_and_only_it_is_outside_the_lab_network(lab):
    machines = [*lab.hosts.values(), lab.dns, lab.sender, lab.tool_machine("migrator"), lab.forwarder]
    for machine in machines:
        container = machine.get_wrapped_container()
        container.reload()
        # on an internal network Docker's DNS would still try the engine's resolvers (in vain,
        # after 20 s: docs/security.md, "The sealed lab"); the machine itself is asked instead
        assert container.attrs["HostConfig"]["Dns"] == ["127.0.0.1"], machine.role
        networks = set(container.attrs["NetworkSettings"]["Networks"])
        published = {port: bound for port, bound in (container.ports or {}).items() if bound}
        if machine is lab.forwarder:
            assert networks == {lab.network.name, lab.outside.name} and len(published) == 2 * 6 + 1
        else:
            assert networks == {lab.network.name} and not published, machine.role
    network = lab.client.networks.get(lab.network.id)
    assert network.attrs["Internal"] and network.attrs["Options"]["com.docker.network.bridge.inhibit_ipv4"] == "true"
