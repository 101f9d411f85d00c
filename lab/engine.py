"""Which Docker engine the lab is on, and where its published ports are: the one address the
runner reaches a lab's IMAP, POP3, SMTP, ManageSieve and MariaDB on, and the lab publishes
them on.

A local engine (a unix socket) publishes on 127.0.0.1. An engine elsewhere (DOCKER_HOST=
tcp://HOST:PORT or ssh://user@HOST) publishes on HOST, as an address of that machine: the
runner can reach nothing else there, and publishing on 0.0.0.0 would open a lab's ports, with
their lab passwords, to every network the machine is on. A loopback HOST (tcp://127.0.0.2:2375)
is an engine on this machine, and its ports stay on that loopback address.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from urllib.parse import urlsplit

from .errors import LabError

LOCAL = "127.0.0.1"
SSH_CLIENT = ("ssh",)  # OpenSSH, which docker's ssh transport runs (use_ssh_client)
SSH_TIMEOUT = 10  # seconds for `ssh -G`, which reads configuration only


def docker_host() -> str:
    """The engine, found as testcontainers finds it (it starts the lab's containers): DOCKER_HOST,
    else the current `docker context`; "" is the local socket."""
    from testcontainers.core.docker_client import get_docker_host  # noqa: PLC0415  (the CLI needs no Docker to validate)

    return get_docker_host() or ""


def engine_client():
    """A client of that engine, over the ssh transport testcontainers uses too (the OpenSSH
    client: ~/.ssh/config, the agent, ProxyJump), TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH."""
    import docker  # noqa: PLC0415

    host = docker_host()
    return docker.from_env(environment=os.environ | ({"DOCKER_HOST": host} if host else {}),
                           use_ssh_client=host.startswith("ssh://"))


def engine_address() -> str:
    """The address of the engine's published ports."""
    return address_of(docker_host())


@functools.cache  # every protocol connection asks; a name is resolved once
def address_of(docker_host: str) -> str:
    """The IP address published ports are on for an engine at `docker_host` (DOCKER_HOST's
    forms, as the docker SDK reads them: no scheme means tcp, no host means this machine)."""
    url = urlsplit(docker_host if "://" in docker_host else f"tcp://{docker_host}")
    if url.scheme in ("", "unix", "npipe") or not url.hostname:
        return LOCAL
    if url.scheme not in ("tcp", "http", "https", "ssh"):
        raise LabError(f"DOCKER_HOST={docker_host}: unknown scheme '{url.scheme}' (unix://, tcp:// or ssh://)")
    host = _ssh_hostname(url.hostname) if url.scheme == "ssh" else url.hostname
    return _ip_address(host, docker_host)


def _ssh_hostname(alias: str) -> str:
    """The host OpenSSH connects to for `alias` (a HostName in ~/.ssh/config, or `alias` itself)."""
    try:
        result = subprocess.run([*SSH_CLIENT, "-G", alias], capture_output=True, text=True, timeout=SSH_TIMEOUT)
    except FileNotFoundError:
        raise LabError("DOCKER_HOST=ssh://... needs the OpenSSH client: apt-get install openssh-client") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"ssh -G {alias} did not answer within {SSH_TIMEOUT} s") from None
    if result.returncode != 0:
        raise LabError(f"ssh -G {alias}: {' '.join(result.stderr.split()) or f'exit {result.returncode}'}")
    names = [line.split(None, 1)[1] for line in result.stdout.splitlines() if line.startswith("hostname ")]
    return names[0] if names else alias


def _ip_address(host: str, docker_host: str) -> str:
    """`host` as an IP address (Docker publishes on addresses, not names), IPv4 first."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise LabError(f"DOCKER_HOST={docker_host}: cannot resolve {host}: {error.strerror}") from None
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    return found[0][4][0]
