"""Hostile or broken input, against real containers (issue 17, section 2): a foreign lab label
and `maillab down`, a command that prints without end, and secrets kept out of every command
line the lab runs (what `ps` and `docker events` show anyone on the engine's machine)."""

from __future__ import annotations

import os
import socket
import time
import tracemalloc

import docker.errors as docker_errors
import pytest

from maillab.lab.command import Command
from maillab.lab.containers import timed_argv
from maillab.lab.docker_exec import KEEP, exec_output
from maillab.lab.lab import LABEL, RUNNER_HOST, RUNNER_PID, RUNNER_STARTED, Lab
from maillab.runner.schema.loader import load_scenario
from maillab.runner.rehearsal.phases import rehearse
from maillab.runner.schema.scenario import HostSpec

from .conftest import ROOT, maillab

OUTPUT = 50_000_000  # bytes a command prints: far above what is kept (2 * KEEP per stream)


@pytest.fixture
def plain_container(images, docker):
    """A bare container to exec in (not a lab's: removed by its id)."""
    container = docker.containers.run("maillab/internet:bookworm", ["sleep", "infinity"], detach=True,
                                      entrypoint=[], labels={"maillab.test": "hostile-input"})
    yield container
    container.remove(force=True)


@pytest.mark.xdist_group("stale labs")  # `down` (the default, --stale) removes every stale lab
def test_a_foreign_lab_label_is_never_a_path_for_down(images, docker, tmp_path):
    """A container labelled maillab.lab=../../.. that looks stale (its 'runner' is gone): the old
    `down` removed it and then rmtree'd state/labs/../../.., a folder of the runner's home.
    (--all is not used here: it would remove the labs other runs keep on this engine.)"""
    home = tmp_path / "home"
    precious = home / ".local" / "precious"
    precious.mkdir(parents=True)
    (precious / "file").write_text("keep me")
    env = dict(os.environ, HOME=str(home), XDG_STATE_HOME=str(home / ".local" / "state"))
    env.pop("MAILLAB_STATE_DIR", None)
    (home / ".local" / "state" / "maillab" / "labs").mkdir(parents=True)
    gone = {RUNNER_HOST: socket.gethostname(), RUNNER_PID: "999999999", RUNNER_STARTED: "1.00"}
    container = docker.containers.create("maillab/internet:bookworm", ["true"], entrypoint=[],
                                         labels={LABEL: "../../..", **gone})
    try:
        down = maillab("down", env=env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "not a lab id maillab makes" in down.stderr and "'../../..'" in down.stderr
        assert "Traceback" not in down.stderr
        assert (precious / "file").read_text() == "keep me"
        assert (home / ".local" / "state" / "maillab" / "labs").is_dir()
        container.reload()  # still there: a foreign object is never touched
        assert [c.id for c in docker.containers.list(all=True, filters={"label": f"{LABEL}=../../.."})] == [container.id]
        for command in (["down", "--lab", "../../.."], ["check", "--lab", "../../.."]):
            refused = maillab(*command, env=env)
            assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    finally:
        try:
            container.remove(force=True)
        except docker_errors.NotFound:  # the old `down` removed it
            pass


@pytest.mark.parametrize("command", [
    Command.script(f"head -c {OUTPUT} /dev/zero | tr '\\0' x"),  # ends on its own
    Command.of("yes", "endless"),  # ends only at its timeout
], ids=["50-MB", "until-the-timeout"])
def test_endless_output_is_kept_bounded_and_the_cut_is_said(plain_container, command):
    tracemalloc.start()
    try:
        exit_code, stdout, stderr = exec_output(plain_container, timed_argv(command, 10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(stdout) < 2 * KEEP + 100 and stderr == b""
    head, cut, tail = stdout.partition(b"\n[... ")
    assert len(head) == KEEP and len(tail.split(b" bytes cut ...]\n", 1)[1]) == KEEP
    cut_bytes = int(tail.split(b" ", 1)[0])
    if exit_code == 0:  # the whole output is accounted for: kept + cut
        assert cut_bytes == OUTPUT - 2 * KEEP
    else:  # killed by its timeout (124) after printing far more than is kept
        assert exit_code == 124 and cut_bytes > OUTPUT
    assert peak < OUTPUT / 5, f"{peak} bytes held while reading"


# Every user password and lab secret of a rehearsal: in no argv the engine saw (docker events
# name each exec's command line, as `ps` on the engine's machine shows it while it runs).
SECRET_RUNS = ["scenarios/imapc-pop3-migration.yaml",  # master user: hashed, auth tested, pulled into 2.3
               "tests/integration/scenarios/variant-imapc-master-password-to-trixie.yaml"]  # into 2.4


@pytest.mark.parametrize("path", SECRET_RUNS, ids=lambda p: p.rsplit("/", 1)[1].removesuffix(".yaml"))
def test_no_secret_is_in_any_command_line_the_lab_runs(images, docker, path):
    started = int(time.time()) - 1
    result = rehearse(load_scenario(ROOT / path), keep=True)
    try:
        assert result.passed, [f.model_dump() for f in result.findings]
        events = docker.events(since=started, until=int(time.time()) + 1, decode=True,
                               filters={"type": "container", "label": f"{LABEL}={result.lab_id}"})
        commands = [event["Action"] for event in events if event["Action"].startswith("exec_create")]
        assert any("doveadm -c /root/maillab-imapc.conf" in command for command in commands), commands[:20]
        assert any("doveadm auth test" in command for command in commands)
        secrets = {*result.passwords.values(), *result.kept.secrets}
        leaked = [command for command in commands if any(secret in command for secret in secrets)]
        assert leaked == []
        for step in result.steps:
            assert not any(secret in step.command for secret in secrets), step.command
    finally:
        result.kept.destroy()


@pytest.mark.parametrize("suite", ["bookworm", "trixie"])  # Dovecot 2.3 and 2.4
def test_ps_shows_no_password_while_doveadm_hashes_it(images, suite):
    """What `ps` shows while `doveadm pw` runs: a doveadm earlier in PATH writes every process's
    argv in the container, then runs the real one, so the moment is caught without timing."""
    passwords = ["pw-Secret-one", "-pw-secret-two"]
    with Lab({"new": HostSpec(suite=suite)}) as lab:
        host = lab["new"]
        host.put_file("/usr/local/sbin/doveadm", b'#!/bin/sh\nps -eo args >> /root/ps-seen\nexec /usr/bin/doveadm "$@"\n',
                      mode=0o755)
        hashes = host.password_hashes(passwords, ["SHA512-CRYPT", "ARGON2ID"])
        seen = host.read_file("/root/ps-seen").decode()
    assert len(hashes) == 2 and hashes[0].startswith("{SHA512-CRYPT}$6$") and hashes[1].startswith("{ARGON2ID}$argon2id$")
    # the moment was caught, once per password, each with its own scheme
    assert "doveadm pw -s SHA512-CRYPT" in seen and "doveadm pw -s ARGON2ID" in seen, seen
    assert not [line for line in seen.splitlines() if any(p in line for p in passwords)], seen
