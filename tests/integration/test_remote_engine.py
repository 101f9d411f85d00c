"""A Docker engine elsewhere (DOCKER_HOST=tcp://HOST:PORT): the lab's ports are published on
HOST and the runner reaches them there. The engine is this machine's, behind a proxy on
127.0.0.2: a loopback address that is not 127.0.0.1, so that any 127.0.0.1 still assumed
somewhere fails the rehearsal."""

from __future__ import annotations

import json
import os

from maillab.lab.lab import LABEL

from .conftest import lab_objects, maillab
from .engine_proxy import EngineProxy

ENGINE = "127.0.0.2"


def test_a_rehearsal_over_tcp_passes_with_the_labs_ports_published_on_the_engines_address(images, docker, tmp_path):
    proxy = EngineProxy(ENGINE)
    env = dict(os.environ, DOCKER_HOST=proxy.docker_host)
    try:
        run = maillab("run", "scenarios/bullseye-to-bookworm.yaml", "--keep", "--report-dir", str(tmp_path), env=env)
        assert (tmp_path / "report.json").exists(), run.stdout[-3000:] + run.stderr[-3000:]
        report = json.loads((tmp_path / "report.json").read_text())
        try:
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
            assert report["verdict"] == "pass", report.get("error")
            containers = docker.containers.list(filters={"label": f"{LABEL}={report['lab']}"})
            bindings = [binding for container in containers
                        for port in container.attrs["HostConfig"]["PortBindings"].values() for binding in port]
            assert len(bindings) == 2 * 5, bindings  # old and new: SMTP, POP3, IMAP, ManageSieve, MariaDB
            assert {binding["HostIp"] for binding in bindings} == {ENGINE}
            assert f"IMAP {ENGINE}:" in run.stdout  # the kept lab's connection lines
        finally:
            down = maillab("down", "--lab", report["lab"], env=env)
        assert down.returncode == 0, down.stderr
        assert not lab_objects(docker, report["lab"])
    finally:
        proxy.close()
