"""Where the Docker engine's published ports are: the one address the runner reaches a lab's
IMAP, POP3, SMTP, ManageSieve and MariaDB on, and the lab publishes them on.

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
from pathlib import Path
from urllib.parse import urlsplit

from maillab.lab.errors import LabError

LOCAL = "127.0.0.1"
SSH_CONFIG = Path("~/.ssh/config")


def engine_address() -> str:
    """The address of the engine's published ports, for the engine DOCKER_HOST names."""
    return address_of(os.environ.get("DOCKER_HOST", ""))


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
    """The HostName ~/.ssh/config gives `alias`, as the docker SDK's ssh connection reads it."""
    path = SSH_CONFIG.expanduser()
    if not path.exists():
        return alias
    import paramiko  # noqa: PLC0415  (only ssh:// needs it: docker's ssh extra)

    return paramiko.SSHConfig.from_path(str(path)).lookup(alias).get("hostname", alias)


def _ip_address(host: str, docker_host: str) -> str:
    """`host` as an IP address (Docker publishes on addresses, not names), IPv4 first."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise LabError(f"DOCKER_HOST={docker_host}: cannot resolve {host}: {error.strerror}") from None
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    return found[0][4][0]
