"""The lab's images: `maillab/mailhost:<suite>` (dockerfiles/mailhost), and for a live
cutover `maillab/internet:<suite>` (dockerfiles/internet: the DNS and the sending MTA), and
for the HTML report's browser test `maillab/browser:<suite>` (dockerfiles/browser: Chromium), and
for the compose test `maillab/compose:<suite>` (dockerfiles/compose: the docker CLI with Compose v2),
and for every lab `maillab/forwarder:<suite>` (dockerfiles/forwarder: socat, the lab's one door),
and for an upgrade in place `maillab/upgrade:<suite>-<target>` (dockerfiles/upgrade: the mail host
of <suite> holding <target>'s packages).

An image carries the hash of its build context as a label; when an image with the same hash
exists, nothing is built. Build steps are streamed to the progress callback.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors

from .baseimage import ensure_base_image
from .errors import LabError

log = logging.getLogger(__name__)

DOCKERFILES = Path(__file__).resolve().parent.parent / "dockerfiles"
MAILHOST_CONTEXT = DOCKERFILES / "mailhost"
IMAPSYNC_CONTEXT = DOCKERFILES / "imapsync"
INTERNET_CONTEXT = DOCKERFILES / "internet"
INTERNET_SUITE = "bookworm"  # the internet's software need not match either mail server
BROWSER_CONTEXT = DOCKERFILES / "browser"
BROWSER_SUITE = "bookworm"
COMPOSE_CONTEXT = DOCKERFILES / "compose"
COMPOSE_SUITE = "trixie"  # the first suite whose docker-compose package is Compose v2
FORWARDER_CONTEXT = DOCKERFILES / "forwarder"
FORWARDER_SUITE = "bookworm"
UPGRADE_CONTEXT = DOCKERFILES / "upgrade"
SHARED = DOCKERFILES / "shared"  # files every build context gets (install-packages)
CONTEXT_LABEL = "maillab.context"


def mailhost_image(suite: str) -> str:
    return f"maillab/mailhost:{suite}"


def server_image(kind: str, suite: str) -> str:
    """The image of a host running `kind` (dovecot: the mail host; courier, cyrus: dockerfiles/<kind>)."""
    return mailhost_image(suite) if kind == "dovecot" else f"maillab/{kind}:{suite}"


def _context_files(context: Path) -> dict[str, Path]:
    """What a build sees, by name: the shared files, then the context's own."""
    return {str(path.relative_to(folder)): path
            for folder in (SHARED, context) for path in sorted(folder.rglob("*")) if path.is_file()}


def context_hash(context: Path) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(_context_files(context).items()):
        digest.update(name.encode() + b"\0")
        digest.update(oct(path.stat().st_mode & 0o777).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def is_current(client: docker.DockerClient, tag: str, context: Path) -> bool:
    return _labelled(client, tag, context_hash(context))


def _labelled(client: docker.DockerClient, tag: str, label: str) -> bool:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(CONTEXT_LABEL) == label


def upgrade_image(suite: str, target: str) -> str:
    return f"maillab/upgrade:{suite}-{target}"


def _upgrade_label() -> str:
    """An upgrade image is current while its own context and the mail host's it starts from are."""
    return f"{context_hash(UPGRADE_CONTEXT)}-{context_hash(MAILHOST_CONTEXT)}"


def internet_image() -> str:
    return f"maillab/internet:{INTERNET_SUITE}"


def browser_image() -> str:
    return f"maillab/browser:{BROWSER_SUITE}"


def compose_image() -> str:
    return f"maillab/compose:{COMPOSE_SUITE}"


def forwarder_image() -> str:
    return f"maillab/forwarder:{FORWARDER_SUITE}"


def ensure_mailhost_image(client: docker.DockerClient, suite: str) -> bool:
    """Build the mail host image for `suite` unless an up-to-date one exists.

    Returns True when something was built.
    """
    return ensure_images(client, (suite,), internet=False)[mailhost_image(suite)]


BUILDERS = 2  # image builds at once: apt-get downloads while another unpacks (2 cores)
BUILD_LOCK = Path(tempfile.gettempdir()) / "maillab-build.lock"


def ensure_images(client: docker.DockerClient, suites: tuple[str, ...], internet: bool,
                  browser: bool = False, compose: bool = False,
                  upgrades: tuple[tuple[str, str], ...] = (),
                  servers: tuple[tuple[str, str], ...] = ()) -> dict[str, bool]:
    """The mail host images of `suites` and the forwarder's (and the internet's, the browser's, Compose
    v2's), two builds at a time; the base images first, one after the other (debootstrap may need installing once);
    then the upgrade images of `upgrades` (suite, target), each on its suite's mail host image;
    and the images of `servers` (kind, suite) other than Dovecot.
    Returns, per image, whether it was built."""
    suites = tuple(sorted({*suites, *(suite for suite, _ in upgrades)}))
    built = _ensure_images(client, suites, internet, browser, compose,
                           tuple((kind, suite) for kind, suite in servers if kind != "dovecot"))
    stale = [(suite, target) for suite, target in upgrades
             if not _labelled(client, upgrade_image(suite, target), _upgrade_label())]
    if stale:
        with _one_builder_at_a_time():
            for suite, target in stale:
                if not _labelled(client, upgrade_image(suite, target), _upgrade_label()):
                    log.info("fetching %s's packages for an upgrade in place from %s (once)", target, suite)
                    _build_context(client, upgrade_image(suite, target), UPGRADE_CONTEXT, _upgrade_label(),
                                   {"SUITE": suite, "TARGET": target})
    return built | {upgrade_image(*road): road in stale for road in upgrades}


def _ensure_images(client: docker.DockerClient, suites: tuple[str, ...], internet: bool,
                   browser: bool, compose: bool, servers: tuple[tuple[str, str], ...]) -> dict[str, bool]:
    wanted = {mailhost_image(suite): (MAILHOST_CONTEXT, suite) for suite in suites}
    wanted |= {server_image(kind, suite): (DOCKERFILES / kind, suite) for kind, suite in servers}
    wanted[forwarder_image()] = (FORWARDER_CONTEXT, FORWARDER_SUITE)  # every lab has one
    if internet:
        wanted[internet_image()] = (INTERNET_CONTEXT, INTERNET_SUITE)
    if browser:
        wanted[browser_image()] = (BROWSER_CONTEXT, BROWSER_SUITE)
    if compose:
        wanted[compose_image()] = (COMPOSE_CONTEXT, COMPOSE_SUITE)
    stale = {tag: job for tag, job in wanted.items() if not is_current(client, tag, job[0])}
    if stale:
        with _one_builder_at_a_time():  # rehearsals started at once build each image once
            stale = {tag: job for tag, job in stale.items() if not is_current(client, tag, job[0])}
            for suite in sorted({suite for _, suite in stale.values()}):
                ensure_base_image(client, suite)
            with ThreadPoolExecutor(BUILDERS) as pool:
                list(pool.map(lambda item: build(client, item[0], *item[1]), stale.items()))
    return {tag: tag in stale for tag in wanted}


@contextmanager
def _one_builder_at_a_time() -> Iterator[None]:
    """An exclusive lock for this machine's builds (a file lock: it goes with its process)."""
    with BUILD_LOCK.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another maillab is building images: waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_imapsync_image(client: docker.DockerClient, suite: str, script: Path) -> str:
    """The imapsync image: the mail host image of `suite` plus imapsync's Perl modules and the
    imapsync script the user provides (it is in no Debian suite). Built on first use only."""
    ensure_mailhost_image(client, suite)
    tag = f"maillab/imapsync:{suite}"
    with tempfile.TemporaryDirectory(prefix="maillab-imapsync-") as directory:
        context = Path(directory)
        shutil.copy(IMAPSYNC_CONTEXT / "Dockerfile", context / "Dockerfile")
        shutil.copy(script, context / "imapsync")
        (context / "imapsync").chmod(0o755)
        if not is_current(client, tag, context):
            build(client, tag, context, suite)
    return tag


def build(client: docker.DockerClient, tag: str, context: Path, suite: str) -> None:
    """docker build of `context` for `suite`, labelled with the context's hash; each build
    step is logged as progress."""
    _build_context(client, tag, context, context_hash(context), {"SUITE": suite})


def _build_context(client: docker.DockerClient, tag: str, context: Path, label: str, args: dict[str, str]) -> None:
    log.info("building %s", tag)
    with tempfile.TemporaryDirectory(prefix="maillab-build-") as directory:
        for name, path in _context_files(context).items():
            (Path(directory) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, Path(directory) / name)
        _build(client, tag, Path(directory), args, label)


def _build(client: docker.DockerClient, tag: str, directory: Path, args: dict[str, str], label: str) -> None:
    suite = args["SUITE"]
    stream = client.api.build(
        path=str(directory),
        tag=tag,
        buildargs=args,
        labels={CONTEXT_LABEL: label},
        rm=True,
        forcerm=True,  # the legacy builder otherwise leaves failed, unlabelled containers behind
        decode=True,
    )
    last_lines: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            detail = " / ".join(line for line in last_lines[-3:] if line)
            raise LabError(f"building {tag} failed: {chunk['error'].strip()} ({detail})")
        line = chunk.get("stream", "").strip()
        if line:
            last_lines.append(line)
            if line.startswith("Step "):
                log.info("%s: %s", suite, line)
