"""The mail host images: `maillab/mailhost:<suite>`, built from dockerfiles/mailhost.

An image carries the hash of its build context as a label; when an image with the same hash
exists, nothing is built. Build steps are streamed to the progress callback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from lab.baseimage import SUITES, ensure_base_image
from lab.errors import LabError

DOCKERFILES = Path(__file__).resolve().parent.parent / "dockerfiles"
MAILHOST_CONTEXT = DOCKERFILES / "mailhost"
CONTEXT_LABEL = "maillab.context"


def mailhost_image(suite: str) -> str:
    return f"maillab/mailhost:{suite}"


def context_hash(context: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0")
        digest.update(oct(path.stat().st_mode & 0o777).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def is_current(client: docker.DockerClient, suite: str) -> bool:
    try:
        image = client.images.get(mailhost_image(suite))
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(CONTEXT_LABEL) == context_hash(MAILHOST_CONTEXT)


def ensure_mailhost_image(client: docker.DockerClient, suite: str, say: Callable[[str], None]) -> bool:
    """Build the mail host image for `suite` unless an up-to-date one exists.

    Returns True when something was built.
    """
    if suite not in SUITES:
        raise LabError(f"unknown suite '{suite}' (known: {', '.join(SUITES)})")
    if is_current(client, suite):
        return False
    ensure_base_image(client, suite, say)
    say(f"building {mailhost_image(suite)}")
    stream = client.api.build(
        path=str(MAILHOST_CONTEXT),
        tag=mailhost_image(suite),
        buildargs={"SUITE": suite},
        labels={CONTEXT_LABEL: context_hash(MAILHOST_CONTEXT)},
        rm=True,
        forcerm=True,  # the legacy builder otherwise leaves failed, unlabelled containers behind
        decode=True,
    )
    last_lines: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            detail = " / ".join(line for line in last_lines[-3:] if line)
            raise LabError(f"building {mailhost_image(suite)} failed: {chunk['error'].strip()} ({detail})")
        line = chunk.get("stream", "").strip()
        if line:
            last_lines.append(line)
            if line.startswith("Step "):
                say(f"{suite}: {line}")
    return True
