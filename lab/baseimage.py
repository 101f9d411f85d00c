"""Debian base images, made locally when they cannot be pulled.

On a normal machine `debian:<suite>` comes from a registry. Where none is reachable the lab
makes the same image itself: debootstrap into a folder, add what the official image has
(-updates and -security sources, a policy-rc.d that keeps daemons from starting during
builds), and `docker import` it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker
import docker.errors

from .errors import LabError

log = logging.getLogger(__name__)

DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_LABEL = "maillab.base"  # on base images maillab made itself
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def host_debian_mirror() -> str:
    """The Debian mirror this host's own apt uses (MAILLAB_DEBIAN_MIRROR overrides it)."""
    if override := os.environ.get("MAILLAB_DEBIAN_MIRROR"):
        return override.rstrip("/")
    files: list[Path] = []
    for source in APT_SOURCES:
        if source.is_dir():
            files += sorted(source.glob("*.list")) + sorted(source.glob("*.sources"))
        elif source.is_file():
            files.append(source)
    for path in files:
        for url in re.findall(r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)", path.read_text(), re.M):
            if url.rstrip("/").endswith("/debian"):
                return url.rstrip("/")
    return DEFAULT_MIRROR


def image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_base_image(client: docker.DockerClient, suite: str) -> None:
    """Make sure `debian:<suite>` exists: pull it, or else debootstrap and import it."""
    name = f"debian:{suite}"
    if image_exists(client, name):
        return
    try:
        client.images.pull("debian", tag=suite)
        log.info("pulled %s", name)
        return
    except docker.errors.APIError:
        pass
    mirror = host_debian_mirror()
    log.info("%s is not present and cannot be pulled: making it with debootstrap from %s", name, mirror)
    debootstrap = _debootstrap_command()
    with tempfile.TemporaryDirectory(prefix=f"maillab-{suite}-") as work:
        rootfs = Path(work) / "rootfs"
        _run([*debootstrap, "--variant=minbase", suite, str(rootfs), mirror], f"debootstrap {suite}")
        _make_like_official_image(rootfs, suite, mirror)
        tarball = Path(work) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], f"packing {suite}")
        log.info("importing %s", name)
        client.api.import_image_from_file(str(tarball), repository="debian", tag=suite,
                                          changes=[f"LABEL {BASE_LABEL}=debootstrap"])


def _make_like_official_image(rootfs: Path, suite: str, mirror: str) -> None:
    security = mirror.rsplit("/", 1)[0] + "/debian-security"
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {mirror} {suite} main\n"
        f"deb {mirror} {suite}-updates main\n"
        f"deb {security} {suite}-security main\n"
    )
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# No daemon starts while an image is being built.\nexit 101\n")
    policy.chmod(0o755)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True)


def _debootstrap_command() -> list[str]:
    if shutil.which("debootstrap"):
        return ["debootstrap"]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log.info("debootstrap is missing: installing it with apt-get (Debian package 'debootstrap')")
        _run(["apt-get", "update", "-qq"], "apt-get update")
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"], "apt-get install debootstrap")
        return ["debootstrap"]
    raise LabError(
        "debootstrap is needed to make Debian base images locally: "
        "run `sudo apt-get install debootstrap` (or make debian:<suite> images available)"
    )


def _run(command: list[str], what: str, timeout: float = 1800) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"{what} did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"{what} failed (exit {result.returncode}): {tail[0]}")
