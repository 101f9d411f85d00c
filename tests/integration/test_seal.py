"""The lab is sealed (docs/security-seal.md): from every kind of machine a lab runs, a name
outside the lab does not resolve and a TCP connection to an address outside fails at once,
refused on the machine itself (no route, or the forwarder's own firewall), so no packet
leaves; while the runner still reaches every published service on 127.0.0.1.

The lab is a live cutover's (its internet configured as a rehearsal configures it), so the
DNS and sending machines are in it too. The outside name is the Debian mirror this machine
already uses: the test resolves it here (the control: the name exists) and connects nowhere.
The outside address is TEST-NET-1 (RFC 5737)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from maillab.lab.command import Command
from maillab.lab.engine import engine_address
from maillab.lab.lab import Lab
from maillab.runner.loader import load_scenario
from maillab.runner.traffic import open_internet

SCENARIO = Path("scenarios/ispmail-cutover.yaml")
OUTSIDE_NAME = "deb.debian.org"
OUTSIDE = ("192.0.2.1", 25)
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
        yield lab


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
        # after 20 s: docs/security-seal.md); the machine itself is asked instead
        assert container.attrs["HostConfig"]["Dns"] == ["127.0.0.1"], machine.role
        networks = set(container.attrs["NetworkSettings"]["Networks"])
        published = {port: bound for port, bound in (container.ports or {}).items() if bound}
        if machine is lab.forwarder:
            assert networks == {lab.network.name, lab.outside.name} and len(published) == 2 * 5 + 1
        else:
            assert networks == {lab.network.name} and not published, machine.role
    network = lab.client.networks.get(lab.network.id)
    assert network.attrs["Internal"] and network.attrs["Options"]["com.docker.network.bridge.inhibit_ipv4"] == "true"
