"""A lab: a private Docker network with mail hosts on it, reachable by role (`old`, `new`).

Every Docker object the lab creates carries `maillab.lab=<lab id>`; `destroy` removes exactly
those objects. Secrets (doveadm, database and probe passwords) are generated per lab.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # Ryuk cannot be pulled here

import docker  # noqa: E402
import docker.errors  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402

from lab.errors import LabError  # noqa: E402
from lab.host import HostConfig, LabContainer, MailHostContainer, MigratorContainer  # noqa: E402
from lab.images import ensure_mailhost_image, mailhost_image  # noqa: E402

LABEL = "maillab.lab"


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
        return client
    except docker.errors.DockerException as error:
        raise LabError(f"cannot reach the Docker engine: {error}") from None


class Lab:
    def __init__(self, hosts: dict[str, HostConfig], say: Callable[[str], None] = lambda _: None) -> None:
        self.id = f"ml{secrets.token_hex(4)}"
        self.configs = hosts
        self.say = say
        self.client = docker_client()
        # dsync over tcp needs the same doveadm_password on both ends.
        self.doveadm_password = secrets.token_urlsafe(18)
        self.hosts: dict[str, MailHostContainer] = {}
        self.network: Network | None = None
        self.tools: dict[str, MigratorContainer] = {}

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.id}

    def __getitem__(self, role: str) -> MailHostContainer:
        return self.hosts[role]

    def container(self, role: str) -> LabContainer:
        """A host by role, or the migrator machine (started on first use)."""
        return self.tool_machine("migrator") if role == "migrator" else self.hosts[role]

    def tool_machine(self, role: str, image: str | None = None) -> MigratorContainer:
        """A machine without services on the lab network, named `role` there; by default
        from the new server's image. Started on first use."""
        if role not in self.tools:
            image = image or mailhost_image(self.configs["new"].suite)
            self.say(f"starting the {role} machine ({image}, no services)")
            self.tools[role] = MigratorContainer(image, role=role, labels=self.labels, network=self.network,
                                                 name=f"{self.id}-{role}").start()
        return self.tools[role]

    def create(self) -> None:
        for suite in sorted({config.suite for config in self.configs.values()}):
            ensure_mailhost_image(self.client, suite, self.say)
        self.network = Network(docker_network_kw={"labels": self.labels})
        self.network.name = f"{self.id}-net"
        self.network.create()
        for role, config in self.configs.items():
            self.say(f"starting host '{role}' (Debian {config.suite}, {config.mail_format}, users in {config.user_store})")
            host = MailHostContainer(
                mailhost_image(config.suite),
                role=role,
                labels=self.labels,
                network=self.network,
                config=config,
                doveadm_password=self.doveadm_password,
                db_password=secrets.token_urlsafe(18),
                probe_password=secrets.token_urlsafe(18),
                name=f"{self.id}-{role}",
            )
            self.hosts[role] = host
            host.start_container()
        for host in self.hosts.values():  # both boot at once; wait for each in turn
            host.wait_until_ready()

    def destroy(self) -> None:
        remove_labelled(self.client, self.id)

    def __enter__(self) -> Lab:
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()


def remove_labelled(client: docker.DockerClient, lab_id: str | None = None) -> tuple[int, int]:
    """Remove the containers and networks of one lab (or of every lab). Returns the counts."""
    selector = f"{LABEL}={lab_id}" if lab_id else LABEL
    containers = client.containers.list(all=True, filters={"label": selector})
    for container in containers:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    networks = client.networks.list(filters={"label": selector})
    for network in networks:
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
    return len(containers), len(networks)
