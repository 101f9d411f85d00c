"""Labs on standby on real containers (lab/standby.py): the next run takes the lab the last
one left, checks it answers, and a lab that does not answer, or is made for what the
scenario no longer is, is never used."""

from __future__ import annotations

import logging

import pytest

from maillab.lab.lab import LABEL, find_labs
from maillab.lab.standby import STANDBY
from maillab.runner.rehearsal.phases import rehearse
from maillab.runner.schema.loader import load_scenario

from .conftest import ROOT, maillab

TAKEN, REPLACED = "taking the lab", "cannot be used"


@pytest.fixture
def scenario(images, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MAILLAB_STATE_DIR", str(tmp_path))  # its own standby records (the CLI's too)
    caplog.set_level(logging.INFO, logger="maillab")
    return load_scenario(ROOT / "scenarios/bullseye-to-bookworm.yaml")


def waiting(docker) -> list[str]:
    return [lab.id for lab in find_labs(docker) if lab.standby]


def labelled(docker, lab_id: str) -> int:
    return len(docker.containers.list(all=True, filters={"label": f"{LABEL}={lab_id}"}))


def test_the_next_run_takes_the_lab_left_on_standby(scenario, docker, caplog):
    first = rehearse(scenario, standby=True)
    assert first.passed, first.error or first.findings
    [standing] = waiting(docker)
    assert labelled(docker, first.lab_id) == 0 and labelled(docker, standing) == 3  # old, new, the forwarder
    assert f"{standing}  bullseye-to-bookworm" in maillab("status").stdout
    caplog.clear()
    second = rehearse(scenario)  # without --standby: it takes the lab and leaves none
    assert second.passed, second.error or second.findings
    assert second.lab_id == standing and f"{TAKEN} {standing} on standby" in caplog.text
    assert waiting(docker) == [] and labelled(docker, standing) == 0


def test_a_lab_on_standby_that_does_not_answer_is_replaced(scenario, docker, caplog):
    rehearse(scenario, standby=True)
    [standing] = waiting(docker)
    docker.containers.get(f"{standing}-new").stop(timeout=0)  # its services are gone
    caplog.clear()
    result = rehearse(scenario)
    assert result.passed, result.error or result.findings
    assert REPLACED in caplog.text and result.lab_id != standing and labelled(docker, standing) == 0


def test_a_lab_for_an_edited_scenario_is_never_taken_and_down_removes_the_one_left(scenario, docker, caplog):
    rehearse(scenario, standby=True)
    [before] = waiting(docker)
    edited = scenario.model_copy(update={"hosts": {**scenario.hosts, "new": scenario.hosts["new"].model_copy(
        update={"mail_format": "mdbox"})}})
    caplog.clear()
    result = rehearse(edited, standby=True)
    assert result.passed, result.error or result.findings
    assert TAKEN not in caplog.text and result.lab_id != before  # it made its own lab
    [after] = waiting(docker)
    assert after != before and labelled(docker, before) == 0  # the older one was removed
    assert docker.containers.get(f"{after}-new").labels[STANDBY]
    down = maillab("down")
    assert down.returncode == 0, down.stderr
    assert waiting(docker) == [] and labelled(docker, after) == 0
