"""A lab to work in (issue 11): `maillab up` keeps a seeded lab, `check` judges it as `run`
would, `shell` is root on a host, `down` removes it. The migration in between is done by
hand, through `maillab shell new`, the way a trainee does it."""

from __future__ import annotations

import json
import os
import re

import pytest

from .conftest import lab_objects, maillab

pytestmark = pytest.mark.integration

DEFAULT = "scenarios/bullseye-to-bookworm.yaml"
# the Dovecot migration doc's pull, after the ISPmail guide's user list copy, typed on new
# (one line: ssh would read the lines after it from the shell's stdin)
BY_HAND = "ssh old mysqldump mailserver | mysql mailserver && doveadm backup -R -A tcp:old:12345; echo exit=$?\n"


def test_up_check_by_hand_check_down(images, docker, tmp_path):
    env = dict(os.environ, MAILLAB_STATE_DIR=str(tmp_path / "state"))
    up = maillab("up", DEFAULT, env=env)
    lab_id = re.search(r"lab (ml[0-9a-f]+) kept running", up.stdout)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr
        lab_id = lab_id.group(1)
        assert re.search(r"user alice@example\.org  password \S+", up.stdout), up.stdout
        assert "maillab shell new" in up.stdout and "maillab check" in up.stdout

        status = maillab("status", env=env)
        assert re.search(rf"^{lab_id}  bullseye-to-bookworm  up \S+  kept$", status.stdout, re.M), status.stdout

        before = maillab("check", "--report-dir", str(tmp_path / "before"), env=env)
        assert before.returncode == 1, before.stdout[-3000:] + before.stderr
        report = json.loads((tmp_path / "before" / "report.json").read_text())
        unknown = [f for f in report["findings"] if f["class"] == "login_failed"
                   and "new's userdb does not know the user" in f["detail"]]
        assert {f["user"] for f in unknown} == {"alice@example.org", "bob@example.org", "carol@example.com"}

        by_hand = maillab("shell", "new", input=BY_HAND, env=env)
        assert "exit=0" in by_hand.stdout, by_hand.stdout + by_hand.stderr

        after = maillab("check", "--report-dir", str(tmp_path / "after"), env=env)
        assert after.returncode == 0, after.stdout[-3000:] + after.stderr
        assert json.loads((tmp_path / "after" / "report.json").read_text())["verdict"] == "pass"
        assert lab_objects(docker, lab_id), "check must leave the lab running"
    finally:
        if lab_id:
            down = maillab("down", "--lab", lab_id, env=env)
            assert down.returncode == 0, down.stdout + down.stderr
    assert lab_objects(docker, lab_id) == []
    assert not (tmp_path / "state" / "labs" / lab_id).exists(), "down forgets the kept lab's record"


@pytest.mark.parametrize(("args", "message"), [
    (["check"], "no lab is kept running: start one with `maillab up SCENARIO`"),
    (["shell", "new", "--lab", "ml00000000"], "--lab ml00000000: no lab kept by `maillab up` with that id is running"),
])
def test_no_kept_lab_is_bad_input(docker, tmp_path, args, message):
    run = maillab(*args, env=dict(os.environ, MAILLAB_STATE_DIR=str(tmp_path)))
    assert run.returncode == 2, run.stdout + run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith(f"maillab: {message}"), run.stderr
