"""What counts as the Docker engine not answering, and the one line it becomes."""

from __future__ import annotations

import docker.errors
import pytest
import requests.exceptions

from maillab.lab.errors import EngineGone, LabError, engine_gone, talking_to_the_engine

# (what a Docker call raised, whether it is the engine not answering)
ERRORS = [
    (ConnectionRefusedError(111, "Connection refused"), True),
    (requests.exceptions.ConnectionError("Remote end closed connection without response"), True),
    (TimeoutError("timed out"), True),  # a socket read past the client's timeout
    (docker.errors.NotFound("No such container"), False),  # an answer of the engine's
    (ValueError("a bug of ours"), False),
]


@pytest.mark.parametrize(("error", "gone"), ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
def test_the_engine_not_answering_is_told_from_its_answers(error, gone):
    assert engine_gone(error) is gone


# (raised inside, the line it must become)
LINES = [
    (ConnectionRefusedError(111, "Connection refused"),
     "the Docker engine went away (unix:///var/run/docker.sock: Connection refused) while running a command on new"),
    (TimeoutError("timed out"),
     "the Docker engine did not answer in time (unix:///var/run/docker.sock: timed out) while running a command on new"),
]


@pytest.mark.parametrize(("error", "line"), LINES, ids=[type(e).__name__ for e, _ in LINES])
def test_talking_to_the_engine_names_what_was_being_done(monkeypatch, error, line):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("maillab.lab.engine.docker_host", lambda: None)
    with pytest.raises(EngineGone) as raised, talking_to_the_engine("running a command on new"):
        raise error
    assert str(raised.value) == line


def test_other_errors_pass_unchanged():
    with pytest.raises(LabError, match="^ours$"), talking_to_the_engine("x"):
        raise LabError("ours")
    with pytest.raises(KeyError), talking_to_the_engine("x"):
        raise KeyError("a bug")
