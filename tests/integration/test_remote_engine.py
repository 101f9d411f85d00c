"""A Docker engine elsewhere (DOCKER_HOST=tcp://HOST:PORT): the lab's ports are published on
HOST and the runner reaches them there. The engine is this machine's, behind a proxy on
127.0.0.2: a loopback address that is not 127.0.0.1, so that any 127.0.0.1 still assumed
somewhere fails the rehearsal. The live cutover adds the sending MTA's SMTP."""

from __future__ import annotations

import json
import os

import docker as docker_sdk
import pytest

from maillab.lab.docker_exec import exec_output
from maillab.lab.lab import LABEL

from .conftest import lab_objects, maillab
from .engine_proxy import EngineProxy

ENGINE = "127.0.0.2"


# old and new publish SMTP, POP3, IMAP, ManageSieve and MariaDB (a live cutover's sender SMTP
# too: run by hand with ("ispmail-cutover", 2 * 5 + 1); it passed, and CI has no minute to spare)
@pytest.mark.parametrize(("scenario", "published"), [("bullseye-to-bookworm", 2 * 6)])
def test_a_rehearsal_over_tcp_passes_with_the_labs_ports_published_on_the_engines_address(images, docker, tmp_path,
                                                                                          scenario, published):
    proxy = EngineProxy(ENGINE)
    env = dict(os.environ, DOCKER_HOST=proxy.docker_host)
    try:
        run = maillab("run", f"scenarios/{scenario}.yaml", "--keep", "--report-dir", str(tmp_path), env=env)
        assert (tmp_path / "report.json").exists(), run.stdout[-3000:] + run.stderr[-3000:]
        report = json.loads((tmp_path / "report.json").read_text())
        try:
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
            assert report["verdict"] == "pass", report.get("error")
            containers = docker.containers.list(filters={"label": f"{LABEL}={report['lab']}"})
            bindings = [binding for container in containers
                        for port in (container.attrs["HostConfig"]["PortBindings"] or {}).values() for binding in port]
            assert len(bindings) == published, bindings
            assert {binding["HostIp"] for binding in bindings} == {ENGINE}
            assert f"IMAP {ENGINE}:" in run.stdout  # the kept lab's connection lines
        finally:
            down = maillab("down", "--lab", report["lab"], env=env)
        assert down.returncode == 0, down.stderr
        assert not lab_objects(docker, report["lab"])
    finally:
        proxy.close()


@pytest.mark.parametrize("engine", ["unix socket", "tcp"])
def test_an_exec_may_stay_silent_longer_than_the_clients_timeout(images, engine):
    """A migration that prints nothing for minutes is not a lost engine: the client's read
    timeout (here 2 s) does not apply to an exec's output (scale-100x1000's backup -A died at 60 s)."""
    proxy = EngineProxy(ENGINE) if engine == "tcp" else None
    client = docker_sdk.DockerClient(base_url=proxy.docker_host, timeout=2) if proxy else docker_sdk.from_env(timeout=2)
    container = client.containers.run("debian:bookworm", ["sleep", "600"], detach=True, remove=True,
                                      labels={LABEL: f"ml-exec-{os.getpid()}"})
    try:
        assert exec_output(container, ["sh", "-c", "sleep 4; echo done"]) == (0, b"done\n", b"")
    finally:
        container.kill()
        client.close()
        if proxy:
            proxy.close()


def test_every_execs_output_arrives_over_tcp(images, tmp_path):
    """docker-py's exec_run lost the output of about one exec in fifty over TCP (exit 0, no
    stdout): maillab's exec reads all of it."""
    proxy = EngineProxy(ENGINE)
    client = docker_sdk.DockerClient(base_url=proxy.docker_host)
    container = client.containers.run("debian:bookworm", ["sleep", "600"], detach=True, remove=True,
                                      labels={LABEL: f"ml-exec-{os.getpid()}"})
    try:
        results = [exec_output(container, ["sh", "-c", f"echo out {n}; echo err {n} >&2; exit {n % 3}"])
                   for n in range(300)]
        assert results == [(n % 3, f"out {n}\n".encode(), f"err {n}\n".encode()) for n in range(300)]
    finally:
        container.kill()
        client.close()
        proxy.close()
