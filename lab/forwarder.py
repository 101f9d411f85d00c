"""The lab's seal and its one door (docs/security.md, "The sealed lab"). The lab network is internal and
its bridge has no address on the engine's side: no machine on it has a route out, not even
to the engine's own services, and Docker publishes no ports there. The forwarder sits on it
and on a bridge network of its own, publishes one port per forwarded service on the engine's
address, and passes each connection on to its host on the lab network (socat;
dockerfiles/forwarder). It runs nothing else and can itself open connections to the lab
network only.

Which of its ports leads where is written on the container (the label FORWARDS), so that a
runner attaching to a kept lab, and `maillab status`, read it from there.
"""

from __future__ import annotations

from testcontainers.core.network import Network

from . import signals
from .command import Command
from .containers import LabContainer
from .engine import engine_address
from .errors import HostNotReady, LabError, talking_to_the_engine
from .images import forwarder_image
from .poll import NotYet, poll

FORWARDS = "maillab.forwards"  # '10000=old:25 10001=old:110 ...'
FIRST_PORT = 10000  # the forwarder's own ports, one per forwarded service
READY_MARK = "/run/maillab-forwarding"  # written once sealed and listening
ROLE = "forwarder"
# internal: no route out; inhibit_ipv4: not even the engine's side of the bridge has an
# address, so a machine cannot reach the engine's own services (an MTA, a resolver) either
SEALED = {"internal": True, "options": {"com.docker.network.bridge.inhibit_ipv4": "true"}}


def sealed_networks(lab_id: str, labels: dict[str, str]) -> tuple[Network, Network]:
    """The lab network, sealed, and the forwarder's outward one, created."""
    network = Network(docker_network_kw={"labels": labels, **SEALED})
    network.name = f"{lab_id}-net"
    outside = Network(docker_network_kw={"labels": labels})
    outside.name = f"{lab_id}-door"
    with signals.deferred():  # asked for, a network comes to exist even if the answer is not awaited
        network.create()
        outside.create()
    return network, outside


def door(lab_id: str, labels: dict[str, str], networks: tuple[Network, Network],
         targets: list[tuple[str, int]]) -> Forwarder:
    """The forwarder (not started) for `targets`, (role, port) on the lab network."""
    network, outside = networks
    return Forwarder(forwarder_image(), table=forward_table(targets), lab_network=network, labels=labels,
                     network=outside, name=f"{lab_id}-{ROLE}")


def forward_table(targets: list[tuple[str, int]]) -> dict[int, tuple[str, int]]:
    """The forwarder's port for each (role, port) of the lab, in the order given."""
    return {FIRST_PORT + index: target for index, target in enumerate(targets)}


def forwards_label(table: dict[int, tuple[str, int]]) -> str:
    return " ".join(f"{listen}={role}:{port}" for listen, (role, port) in table.items())


def read_forwards(label: str) -> dict[int, tuple[str, int]]:
    """The table back from its label."""
    table = {}
    for forward in label.split():
        listen, _, target = forward.partition("=")
        role, _, port = target.rpartition(":")
        table[int(listen)] = (role, int(port))
    return table


class Forwarder(LabContainer):
    """Started on the outward network (which publishes its ports), then plugged into the lab
    network, where it answers as `forwarder`."""

    def __init__(self, image: str, *, table: dict[int, tuple[str, int]], lab_network, **options) -> None:
        options["labels"] = options["labels"] | {FORWARDS: forwards_label(table)}
        super().__init__(image, role=ROLE, **options)
        self.table = table
        self.lab_network = lab_network
        self.with_kwargs(**self._kwargs, cap_add=["NET_ADMIN"])  # its own iptables OUTPUT policy
        self.with_command(forwards_label(table).split())
        for listen in table:
            self.ports[f"{listen}/tcp"] = (engine_address(), None)

    def start(self) -> Forwarder:
        super().start()
        with talking_to_the_engine("connecting the forwarder to the lab network"):
            self.lab_network.connect(self.get_wrapped_container().id, network_aliases=[ROLE])
        return self

    def wait_until_ready(self, timeout: float = 30) -> None:
        def listening() -> None:
            if self.state() != "running":
                raise HostNotReady(f"the forwarder exited; {self.log_tail()}")
            if self.run(Command.of("test", "-e", READY_MARK)).exit_code != 0:
                raise NotYet("not listening yet")
        poll("the forwarder (sealed, listening)", listening, timeout=timeout, interval=0.05)

    @talking_to_the_engine("asking for the forwarder's ports")
    def published(self, role: str, port: int) -> int:
        """The port on the engine's address that leads to `port` of `role`."""
        for listen, target in self.table.items():
            if target == (role, port):
                return int(self.get_exposed_port(listen))
        raise LabError(f"the lab forwards no port {port} of '{role}'")
