"""A lab: a private Docker network with mail hosts on it, reachable by role (`old`, `new`),
machines without services for tools (`migrator`, `imapsync`), and for a live cutover the
internet around them (`dns`, `sender`: lab/internet.py). The lab network is sealed: internal,
without even a gateway on the engine's side, so no machine on it can reach anything but
the others (docs/security.md, "The sealed lab"). The runner reaches the hosts' services through the
`forwarder` (lab/forwarder.py), the one machine also on a second network, which publishes.

Every Docker object the lab creates carries `maillab.lab=<lab id>` and says which runner
made it (host name, pid, that process's start time), so that `maillab down` can tell a lab
whose runner is gone (stale) from one that is still running. `destroy` removes exactly the
objects of its own lab. Secrets (doveadm, database, probe, user passwords, keys) are made
per lab and kept in `secrets`, which every output shown or reported is masked with.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # Ryuk cannot be pulled here

import docker  # noqa: E402
import docker.errors  # noqa: E402
import psutil  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402

from .command import Command  # noqa: E402
from .containers import PUBLISHED, HostSecrets, LabContainer, MailHostContainer, ToolContainer  # noqa: E402
from . import own_config  # noqa: E402
from .engine import engine_client  # noqa: E402
from .errors import LabError, engine_gone, talking_to_the_engine  # noqa: E402
from .lab_id import is_lab_id, new_lab_id  # noqa: E402
from .forwarder import (  # noqa: E402
    FORWARDS, ROLE as FORWARDER, Forwarder, door, read_forwards, sealed_networks,
)
from .images import (  # noqa: E402
    ensure_images, ensure_imapsync_image, forwarder_image, internet_image, mailhost_image, server_image,
    upgrade_image,
)
from .servers import server_classes  # noqa: E402
from ..runner.schema.scenario import HostSpec  # noqa: E402
from ..runner.schema.sources import config_files  # noqa: E402
from . import signals, standby  # noqa: E402
from .standby import STANDBY  # noqa: E402
from .internet import SMTP_PORT, DnsServer, SendingMta  # noqa: E402

log = logging.getLogger(__name__)

LABEL = "maillab.lab"
RUNNER_HOST, RUNNER_PID, RUNNER_STARTED = "maillab.runner.host", "maillab.runner.pid", "maillab.runner.started"
KEPT = "maillab.kept"  # a lab kept on purpose (--keep) is never stale
SCENARIO = "maillab.scenario"  # the name of the scenario the lab was made for
def docker_client() -> docker.DockerClient:
    try:
        client = engine_client()
        client.ping()
        return client
    except Exception as error:
        if engine_gone(error):
            raise LabError(f"cannot reach the Docker engine: {error}") from None
        raise


def _runner_labels(lab_id: str, kept: bool, scenario: str) -> dict[str, str]:
    me = psutil.Process()
    labels = {LABEL: lab_id, RUNNER_HOST: socket.gethostname(), RUNNER_PID: str(me.pid),
              RUNNER_STARTED: f"{me.create_time():.2f}", SCENARIO: scenario}
    return labels | ({KEPT: "yes"} if kept else {})


def machine_class(spec: HostSpec) -> type:
    """The lab's machine for a host of `spec`: the mail host, or the server of another kind (lab/servers)."""
    return MailHostContainer if spec.server == "dovecot" else server_classes()[spec.server]


class Lab:
    def __init__(self, hosts: dict[str, HostSpec], *, keep: bool = False, internet: bool = False,
                 tls: dict[str, tuple[str, str]] | None = None, scenario: str = "-",
                 upgrades: dict[str, str] | None = None, from_standby: bool = False) -> None:
        self.id = new_lab_id()
        self.specs = hosts
        self.scenario = scenario
        self.from_standby = from_standby  # create takes the scenario's lab on standby if there is one
        self.upgrades = upgrades or {}  # role -> the suite it is upgraded to in place (its image holds the packages)
        self.client = docker_client()
        self.labels = _runner_labels(self.id, keep, scenario)
        self.secrets: set[str] = set()
        self.doveadm_password = self.new_secret()
        self.hosts: dict[str, MailHostContainer] = {}
        self.tools: dict[str, ToolContainer] = {}
        self.network: Network | None = None
        self.outside: Network | None = None  # the forwarder's, which publishes its ports
        self.forwarder: Forwarder | None = None
        self.internet = internet
        self.tls = tls or {}  # role -> (PEM chain, key) the host serves TLS with
        for _, key in self.tls.values():
            self.secrets.update(line for line in key.splitlines() if "PRIVATE KEY" not in line)
        self.dns: DnsServer | None = None
        self.sender: SendingMta | None = None

    @classmethod
    @talking_to_the_engine("finding the lab {1}")
    def attach(cls, lab_id: str, hosts: dict[str, HostSpec], doveadm: str, host_secrets: dict[str, HostSecrets]) -> Lab:
        """A lab kept running (`maillab up`) or on standby, its hosts bound to their containers
        again, for another runner to look at or to take."""
        lab = cls(hosts)
        lab.id, lab.doveadm_password = lab_id, doveadm
        lab.secrets = {doveadm, *(s for secret in host_secrets.values() for s in (secret.db, secret.probe))}
        lab.forwarder = lab._attach_forwarder()
        for role, spec in hosts.items():
            try:
                container = lab.client.containers.get(f"{lab_id}-{role}")
            except docker.errors.NotFound:
                raise LabError(f"the lab {lab_id} has no host '{role}' any more (see: maillab status)") from None
            image = container.image.tags[0] if container.image.tags else server_image(spec.server, spec.suite)
            host = machine_class(spec)(image, role=role, labels=container.labels, network=None, spec=spec,
                                       secrets=host_secrets[role], name=container.name)
            host._container = container  # testcontainers' handle on a running container
            host.forwarder = lab.forwarder
            lab.hosts[role] = host
            lab.labels = container.labels
        return lab

    def _attach_forwarder(self) -> Forwarder | None:
        """The kept lab's forwarder, None for a lab from before the seal (its hosts publish)."""
        try:
            container = self.client.containers.get(f"{self.id}-{FORWARDER}")
        except docker.errors.NotFound:
            return None
        forwarder = Forwarder(container.image.tags[0] if container.image.tags else forwarder_image(),
                              table=read_forwards(container.labels.get(FORWARDS, "")), lab_network=None,
                              labels=container.labels, network=None, name=container.name)
        forwarder._container = container
        return forwarder

    def new_secret(self, length: int = 18) -> str:
        """A password for this lab (URL-safe characters: nothing to quote anywhere)."""
        value = secrets.token_urlsafe(length)
        self.secrets.add(value)
        return value

    def __getitem__(self, role: str) -> MailHostContainer:
        return self.hosts[role]

    def container(self, role: str) -> LabContainer:
        """A host by role, or the migrator machine (started on first use)."""
        return self.tool_machine("migrator") if role == "migrator" else self.hosts[role]

    def tool_machine(self, role: str, image: str | None = None) -> ToolContainer:
        """A machine without services on the lab network, named `role` there; by default
        from the new server's image. Started on first use."""
        if role not in self.tools:
            image = image or mailhost_image(self.specs["new"].suite)
            log.info("starting the %s machine (%s, no services)", role, image)
            with signals.deferred():  # the container asked for exists when a signal ends the run: destroy finds it
                self.tools[role] = ToolContainer(image, role=role, labels=self.labels, network=self.network,
                                                 name=f"{self.id}-{role}").start()
        return self.tools[role]

    def imapsync_machine(self, script: Path) -> ToolContainer:
        """The imapsync machine, its image built from the user's copy of the script."""
        return self.tool_machine("imapsync", ensure_imapsync_image(self.client, self.specs["new"].suite, script))

    @talking_to_the_engine("creating the lab")
    def create(self) -> None:
        """The network, then every machine at once, then each is waited for until it answers;
        or the scenario's lab on standby, waited for the same way. A signal or an error on the
        way leaves nothing that `destroy` would not find: each Docker object asked for is
        waited for."""
        ensure_images(self.client, tuple(sorted({spec.suite for spec in self.specs.values()})), self.internet,
                      upgrades=tuple((self.specs[role].suite, target) for role, target in self.upgrades.items()),
                      servers=tuple((spec.server, spec.suite) for spec in self.specs.values()))
        if self.from_standby and self._take_standby():
            return
        self._start()
        machines = [*self.hosts.values(), *([self.dns, self.sender] if self.internet else []), self.forwarder]
        _at_once(lambda machine: machine.wait_until_ready(), machines, finish=False)  # they boot at once

    def _start(self) -> None:
        """The networks and every machine, started (not waited for)."""
        self.network, self.outside = sealed_networks(self.id, self.labels)
        for role, spec in self.specs.items():
            log.info("starting host '%s' (Debian %s, %s)", role, spec.suite,
                     f"{spec.mail_format}, users in {spec.own_store.kind if spec.own_store else spec.user_store}"
                     if spec.server == "dovecot" else f"{spec.server}, its users in its own store")
            host_secrets = HostSecrets(doveadm=self.doveadm_password, db=self.new_secret(), probe=self.new_secret(),
                                       tls=self.tls.get(role))
            image = upgrade_image(spec.suite, self.upgrades[role]) if role in self.upgrades \
                else server_image(spec.server, spec.suite)
            self.hosts[role] = machine_class(spec)(image, role=role, labels=self.labels, network=self.network, spec=spec,
                                       secrets=host_secrets, name=f"{self.id}-{role}")
        if self.internet:  # started bare: the runner configures them once the hosts' addresses are known
            log.info("starting the lab's internet: DNS and a sending MTA (Debian %s)", internet_image().split(":")[1])
            options = {"labels": self.labels, "network": self.network}
            self.dns = DnsServer(internet_image(), role="dns", name=f"{self.id}-dns", **options)
            self.sender = SendingMta(internet_image(), role="sender", name=f"{self.id}-sender", **options)
        published = [(role, port) for role in self.hosts for port in PUBLISHED.values()]
        self.forwarder = door(self.id, self.labels, (self.network, self.outside),
                              published + ([(self.sender.role, SMTP_PORT)] if self.internet else []))
        machines = [*self.hosts.values(), *([self.dns, self.sender] if self.internet else [])]
        for machine in machines:
            machine.forwarder = self.forwarder
        machines.append(self.forwarder)  # it starts with the others: a lab waits no longer for it
        try:
            _at_once(lambda machine: machine.start(), machines, finish=True)
        finally:  # the admin's passwords in their own configuration are masked from here on
            self.secrets.update(*(host.own.secrets for host in self.hosts.values() if host.own))

    def destroy(self) -> None:
        remove_lab(self.client, self.id)

    # -- labs on standby (lab/standby.py) ------------------------------------------------------
    def why_no_standby(self) -> str | None:
        return standby.why_not(self.internet, bool(self.tls), bool(self.upgrades),
                               any(spec.config for spec in self.specs.values()))

    def standby_key(self) -> str | None:
        """The key of this lab on standby; None when it cannot stand by."""
        if self.why_no_standby():
            return None
        images = {role: server_image(spec.server, spec.suite) for role, spec in self.specs.items()}
        images[FORWARDER] = forwarder_image()
        return standby.key_of(self.scenario, {role: spec.model_dump(mode="json") for role, spec in self.specs.items()},
                              {role: self.client.images.get(image).id for role, image in images.items()})

    def _take_standby(self) -> bool:
        """Become the scenario's lab on standby, if one waits and answers (one that does not is
        removed: the run makes its own)."""
        key = self.standby_key()
        record = standby.claim(key, self.labels) if key else None
        if record is None:
            return False
        log.info("taking the lab %s on standby", record.lab_id)
        fresh, self.id = self.id, record.lab_id  # from here on, what ends the run removes the lab taken
        secrets = {role: HostSecrets(doveadm=record.doveadm, db=db, probe=probe)
                   for role, (db, probe) in record.hosts.items()}
        try:
            taken = Lab.attach(record.lab_id, self.specs, record.doveadm, secrets)
            if taken.forwarder is None or set(taken.hosts) != set(self.specs):
                raise LabError("it is not whole")
            _at_once(lambda machine: machine.wait_until_ready(), [*taken.hosts.values(), taken.forwarder], finish=False)
        except LabError as error:
            log.warning("the lab %s on standby cannot be used (%s): making a new one", record.lab_id, error)
            remove_lab(self.client, record.lab_id)
            self.id = fresh
            return False
        self.doveadm_password = taken.doveadm_password
        self.labels = self.labels | {LABEL: taken.id, STANDBY: key}  # the tool machines it starts are this runner's
        self.secrets |= taken.secrets
        self.hosts, self.forwarder = taken.hosts, taken.forwarder
        self.network, self.outside = (_existing_network(self.client, f"{taken.id}-{name}") for name in ("net", "door"))
        return True

    @talking_to_the_engine("starting a lab on standby")
    def stand_by(self) -> str | None:
        """A lab such as this one, started (not waited for: it boots on its own) for the next
        run of the scenario, unless one waits already; its id. One made for an older key of
        the scenario (another image, an edited scenario) is removed."""
        key = self.standby_key()
        if key is None:
            return None
        for record in standby.waiting():
            if record.scenario == self.scenario and record.key != key:
                remove_lab(self.client, record.lab_id)
            elif record.key == key:
                return None
        twin = Lab(self.specs, scenario=self.scenario)
        twin.labels[STANDBY] = key
        try:
            twin._start()
        except BaseException:
            twin.destroy()
            raise
        standby.save(standby.StandbyRecord(
            lab_id=twin.id, scenario=self.scenario, key=key, doveadm=twin.doveadm_password,
            hosts={role: (host.secrets.db, host.secrets.probe) for role, host in twin.hosts.items()}))
        return twin.id

    # -- what faults do to the machines ------------------------------------------------------
    @talking_to_the_engine("cutting {1} off the lab network")
    def disconnect(self, role: str) -> None:
        """Pull `role`'s cable: it leaves the lab network (and the forwarder cannot reach it)."""
        self.client.networks.get(self.network.id).disconnect(self._id_of(role))

    @talking_to_the_engine("connecting {1} to the lab network")
    def reconnect(self, role: str) -> None:
        """Plug it in again, reachable by its role's name as before."""
        self.network.connect(self._id_of(role), network_aliases=[role])

    @talking_to_the_engine("restarting {1}")
    def reboot(self, role: str) -> float:
        """Reboot a host (SIGTERM to all, then `docker restart`) and wait until it is ready
        again; returns the seconds it took."""
        started = time.monotonic()
        host = self.hosts[role]
        # as a shutdown does, every process gets SIGTERM at once (kill -1 spares only PID 1,
        # supervisord): an admin's doveadm ends with the services, not after them
        host.run(Command.of("kill", "-TERM", "-1"))
        host.get_wrapped_container().restart(timeout=30)
        host.wait_until_ready()
        return time.monotonic() - started

    @talking_to_the_engine("replacing {1} by a fresh host")
    def renew(self, role: str) -> None:
        """Replace a host by a fresh one, as it was when the lab was created."""
        old = self.hosts[role]
        old.get_wrapped_container().remove(force=True, v=True)
        host = MailHostContainer(old.image, role=role, labels=self.labels, network=self.network, spec=old.spec,
                                 secrets=old.secrets, name=f"{self.id}-{role}")
        host.forwarder = self.forwarder
        self.hosts[role] = host
        host.start().wait_until_ready()

    @talking_to_the_engine("removing the tool machines")
    def drop_tools(self) -> None:
        """Remove the tool machines (a fresh one starts on next use)."""
        for tool in self.tools.values():
            tool.get_wrapped_container().remove(force=True, v=True)
        self.tools.clear()

    def _id_of(self, role: str) -> str:
        return self.container(role).get_wrapped_container().id

    def __enter__(self) -> Lab:
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()


def check_own_config(spec: HostSpec, role: str) -> list[own_config.ConfigProblem]:
    """What Dovecot and Postfix of the host's suite refuse in its configuration folder, in a
    throw-away machine of the host's image (no network, labelled like a lab, removed by id)."""
    client = docker_client()
    ensure_images(client, (spec.suite,), False)
    lab_id = new_lab_id()
    machine = ToolContainer(mailhost_image(spec.suite), role=f"validate-{role}",
                            labels=_runner_labels(lab_id, False, "validate"), network=None, name=f"{lab_id}-validate")
    machine.with_kwargs(**machine._kwargs, network_mode="none")
    try:
        with signals.deferred():  # the container asked for exists when a signal comes: removed below
            machine.start()
        staged = own_config.stage(config_files(Path(spec.config)), "maillab-validate", spec.own_store)
        return own_config.in_throwaway(machine, staged)
    finally:
        if machine._container is not None:
            machine._container.remove(force=True, v=True)


def _existing_network(client: docker.DockerClient, name: str) -> Network:
    """A network the lab made, as testcontainers' Network (which has no lookup of its own)."""
    network = Network()
    network.name, network._network = name, client.networks.get(name)
    return network


def _at_once(work, machines: list, *, finish: bool) -> None:
    """`work` on every machine at once, in threads (only the main thread gets signals). The
    main thread waits with signals held, so no signal can land between starting the threads
    and waiting for them. When one fails or a signal arrives: with `finish` the others are
    waited for, so that a container being created exists before the lab is removed; without
    it they are left to end on their own (a readiness check stops once its container is gone)."""
    pool = ThreadPoolExecutor(len(machines))
    with signals.held() as arrived:
        futures = [pool.submit(work, machine) for machine in machines]
        pending = set(futures)
        while pending and not (arrived and not finish):
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
            if not finish and any(future.exception() for future in done):
                break
        pool.shutdown(wait=finish, cancel_futures=not finish)
    if arrived:
        raise signals.Interrupted(arrived[0])
    for future in futures:
        if future.done() and not future.cancelled():
            future.result()  # the first failure, as it was raised


@dataclass(frozen=True)
class LabInfo:
    """A lab found on the engine, by its labels."""

    id: str
    containers: int
    networks: int
    runner: str  # 'host pid N' or '-' (compose, or an older maillab)
    started: str
    kept: bool
    stale: bool  # its runner is gone and it was not kept on purpose
    scenario: str = "-"
    standby: bool = False  # waiting on standby for a run of its scenario (lab/standby.py)
    created: dt.datetime | None = None  # its first container's creation

    @property
    def age(self) -> str:
        if self.created is None:
            return "-"
        seconds = int((dt.datetime.now(dt.timezone.utc) - self.created).total_seconds())
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@talking_to_the_engine("looking for labs")
def find_labs(client: docker.DockerClient, *, warn_foreign: bool = False) -> list[LabInfo]:
    """The labs on the engine, by their objects' labels; a label that is no lab id is left out
    (with a warning if asked: `maillab down` says what it leaves alone)."""
    # ignore_removed: another runner's container may go between Docker's list and its inspect
    containers = client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True)
    networks = client.networks.list(filters={"label": LABEL})
    labels: dict[str, dict[str, str]] = {}
    foreign: set[str] = set()
    for found in [c.labels for c in containers] + [n.attrs.get("Labels") or {} for n in networks]:
        if is_lab_id(found[LABEL]):
            labels.setdefault(found[LABEL], found)
        elif warn_foreign and found[LABEL] not in foreign:
            foreign.add(found[LABEL])
            log.warning("ignoring Docker objects labelled %s=%r: not a lab id maillab makes", LABEL, found[LABEL])
    labs = []
    for lab_id, found in sorted(labels.items()):
        waiting, claimer = standby.state_of(lab_id) if STANDBY in found else (False, None)
        found = claimer or found  # a lab taken from standby is the runner's that claimed it
        started = found.get(RUNNER_STARTED)
        created = [dt.datetime.fromisoformat(c.attrs["Created"][:26].rstrip("Z") + "+00:00")
                   for c in containers if c.labels.get(LABEL) == lab_id]
        labs.append(LabInfo(
            id=lab_id,
            containers=sum(1 for c in containers if c.labels.get(LABEL) == lab_id),
            networks=sum(1 for n in networks if (n.attrs.get("Labels") or {}).get(LABEL) == lab_id),
            runner=f"{found[RUNNER_HOST]} pid {found[RUNNER_PID]}" if RUNNER_PID in found else "-",
            started=dt.datetime.fromtimestamp(float(started)).isoformat(timespec="seconds") if started else "-",
            kept=KEPT in found,
            stale=KEPT not in found and not waiting and runner_gone(found),
            scenario=found.get(SCENARIO, "-"),
            created=min(created, default=None),
            standby=waiting,
        ))
    return labs


@talking_to_the_engine("asking for the ports of the lab {1}")
def published_ports(client: docker.DockerClient, lab_id: str) -> dict[str, dict[str, str]]:
    """Role -> service -> the address Docker published it on: the forwarder's ports, or for a
    lab from before the seal the hosts' own."""
    services = {port: name for name, port in PUBLISHED.items()}
    found: dict[str, dict[str, str]] = {}
    for container in client.containers.list(filters={"label": f"{LABEL}={lab_id}"}, ignore_removed=True):
        table = read_forwards(container.labels.get(FORWARDS, "")) or {
            port: (container.name.removeprefix(f"{lab_id}-"), port) for port in services}
        for listen, (role, port) in table.items():
            if (bound := (container.ports or {}).get(f"{listen}/tcp")) and port in services:
                found.setdefault(role, {})[services[port]] = f"{bound[0]['HostIp']}:{bound[0]['HostPort']}"
    return dict(sorted(found.items()))


def choose_labs(labs: list[LabInfo], lab_id: str | None = None, everything: bool = False) -> list[LabInfo]:
    """What `maillab down` removes: the lab named, every lab with --all, else the stale ones and
    those on standby (no runner uses them)."""
    if lab_id:
        return [lab for lab in labs if lab.id == lab_id]
    return list(labs) if everything else [lab for lab in labs if lab.stale or lab.standby]


def runner_gone(labels: dict[str, str]) -> bool:
    """Whether the process that made a lab has ended: only a runner on this machine can be
    judged; one whose pid now belongs to another process (another start time) is gone too."""
    if RUNNER_PID not in labels or labels.get(RUNNER_HOST) != socket.gethostname():
        return False
    try:
        process = psutil.Process(int(labels[RUNNER_PID]))
        return abs(process.create_time() - float(labels[RUNNER_STARTED])) > 1
    except (psutil.NoSuchProcess, ValueError):
        return True


def remove_lab(client: docker.DockerClient, lab_id: str) -> tuple[int, int]:
    """Remove the containers and networks of one lab, and its record if it was on standby.
    Returns the counts."""
    with talking_to_the_engine(f"removing the lab {lab_id}"):
        removed = _remove_lab(client, lab_id)
    standby.release(lab_id)
    return removed


def _remove_lab(client: docker.DockerClient, lab_id: str) -> tuple[int, int]:
    selector = {"label": f"{LABEL}={lab_id}"}
    containers = client.containers.list(all=True, filters=selector, ignore_removed=True)

    def remove(container) -> None:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    with ThreadPoolExecutor(max(len(containers), 1)) as pool:
        list(pool.map(remove, containers))
    networks = client.networks.list(filters=selector)
    for network in networks:
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
    return len(containers), len(networks)
