"""compose.yaml for training, with both Compose versions: `maillab compose-env` writes the env
file into a project directory of its own (a copy of compose.yaml, in a path with characters
the env file must quote), `up -d` starts old and new, and an IMAP login on old as a
default-scenario user with the password from the env file sees the scenario's mail in every
folder, while new knows no user yet. `down -v` must leave nothing labelled with the lab's id
(whatever happens, the lab is removed by its label at the end).

Compose v1 is the docker-compose binary on this machine; Compose v2 (`docker compose`) is
Debian trixie's, in the compose image, with the engine's socket mounted and the project
directory at the same path (bind mounts are the engine's paths)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from imapclient import IMAPClient

from maillab.lab.containers import PROBE_USER, imap_login
from maillab.lab.images import compose_image, ensure_images
from maillab.lab.lab import LABEL, remove_lab
from maillab.lab.poll import NotYet, poll
from maillab.runner.entry.compose_env import COMPOSE_FILE, DEFAULT_SCENARIO
from maillab.runner.rehearsal.messages import folder_messages
from maillab.runner.schema.loader import load_scenario

from .conftest import lab_objects, maillab

pytestmark = pytest.mark.xdist_group("compose")  # the two runs share nothing, but each is heavy
DOCKER_SOCKET = "/var/run/docker.sock"
COMPOSE_S = 180  # one compose command (up: two containers on 2 shared cores)
SEEDED_S = 120  # old loads about 2,000 messages at its first start
GONE_S = 15  # `docker run --rm`'s container may take a moment to go


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines, single quotes taken off (compose-env writes no other quoting)."""
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value[1:-1] if value.startswith("'") else value
    return values


def compose_command(version: str, project: Path, name: str, lab_id: str) -> list[str]:
    if version == "v1":
        return ["docker-compose", "-p", name]
    return ["docker", "run", "--rm", "--label", f"{LABEL}={lab_id}", "-v", f"{DOCKER_SOCKET}:{DOCKER_SOCKET}",
            "-v", f"{project}:{project}", "-w", str(project), compose_image(), "compose", "-p", name]


def login_sees(port: int, address: str, password: str) -> dict[str, int]:
    """Each folder's message count, once the user can log in (old loads the bundle after its
    services start)."""
    try:
        client = imap_login(port, address, password)
    except IMAPClient.Error as error:
        raise NotYet(f"login as {address}: {error}") from None
    with client:
        return {name: client.select_folder(name, readonly=True)[b"EXISTS"] for _, _, name in client.list_folders()}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_compose_up_starts_old_with_the_default_users_and_mail_and_new_empty(docker, tmp_path, version):
    if version == "v2":
        ensure_images(docker, (), internet=False, compose=True)  # Compose v2 is in no package of this machine
    project = tmp_path / "training lab $HOME #1"
    project.mkdir()
    shutil.copy(COMPOSE_FILE, project / "compose.yaml")
    written = maillab("compose-env", "--out", str(project / ".env"))
    assert written.returncode == 0, written.stderr
    env = read_env(project / ".env")
    lab_id = env["MAILLAB_LAB"]
    compose = compose_command(version, project, f"{lab_id}-{version}", lab_id)

    def run(*args: str) -> str:
        result = subprocess.run([*compose, *args], cwd=project, capture_output=True, text=True, timeout=COMPOSE_S)
        assert result.returncode == 0, f"{' '.join(args)}: {result.stderr[-2000:]}"
        return result.stdout

    def port(role: str) -> int:
        """The role's IMAP, through the forwarder (compose.yaml: 10000 + the port for old, 20000 + for new)."""
        return int(run("port", "forwarder", {"old": "10143", "new": "20143"}[role]).strip().rsplit(":", 1)[1])

    scenario = load_scenario(DEFAULT_SCENARIO)
    user = scenario.users[0]
    assert env["MAILLAB_USER_1"] == user.address
    expected = {scenario.hosts["old"].imap_name(folder.name): len(folder_messages(scenario.seed, user, folder))
                for folder in user.folders}
    try:
        run("up", "-d")
        seen = poll(f"{user.address} on old", lambda: login_sees(port("old"), user.address, env["MAILLAB_USER_1_PASSWORD"]),
                    timeout=SEEDED_S, interval=1)
        assert {name: count for name, count in seen.items() if name in expected} == expected
        # sealed as a rehearsal's lab is (tests/integration/test_seal.py): only the forwarder's door is not internal
        networks = docker.networks.list(filters={"label": f"{LABEL}={lab_id}"})
        assert sorted(network.attrs["Internal"] for network in networks) == [False, True]
        new = port("new")
        poll("new to answer", lambda: imap_login(new, PROBE_USER, env["MAILLAB_PROBE_PASSWORD"]).logout(),
             timeout=SEEDED_S, interval=1)
        with pytest.raises(IMAPClient.Error):  # as the rehearsal starts: moving the users is the trainee's work
            imap_login(new, user.address, env["MAILLAB_USER_1_PASSWORD"])
        run("down", "-v")

        def gone() -> None:
            if left := lab_objects(docker, lab_id):
                raise NotYet(f"left: {left}")
        poll(f"nothing labelled {lab_id}", gone, timeout=GONE_S)
    finally:
        remove_lab(docker, lab_id)
