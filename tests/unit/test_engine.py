"""Where the engine's published ports are, read from DOCKER_HOST (lab/engine.py)."""

from __future__ import annotations

import pytest

from maillab.lab import engine
from maillab.lab.engine import address_of, docker_host, engine_address
from maillab.lab.errors import LabError


@pytest.fixture(autouse=True)
def fresh():
    address_of.cache_clear()
    yield
    address_of.cache_clear()


@pytest.mark.parametrize(("docker_host", "address"), [
    ("", "127.0.0.1"),  # DOCKER_HOST unset: the local socket
    ("unix:///var/run/docker.sock", "127.0.0.1"),
    ("unix:///run/user/1000/docker.sock", "127.0.0.1"),  # rootless
    ("tcp://127.0.0.2:2375", "127.0.0.2"),  # a loopback engine keeps its own loopback address
    ("tcp://192.0.2.10:2376", "192.0.2.10"),
    ("https://192.0.2.10:2376", "192.0.2.10"),
    ("192.0.2.10:2375", "192.0.2.10"),  # no scheme is tcp, as the docker SDK reads it
    ("tcp://:2375", "127.0.0.1"),  # no host is this machine
    ("tcp://[2001:db8::5]:2375", "2001:db8::5"),
    ("ssh://admin@192.0.2.11", "192.0.2.11"),
    ("ssh://admin@192.0.2.11:2222", "192.0.2.11"),
    ("tcp://localhost:2375", "127.0.0.1"),  # a name becomes an address: Docker publishes on addresses
])
def test_the_published_address_is_the_engines(docker_host, address, tmp_path, monkeypatch):
    (tmp_path / "config").write_text("")
    monkeypatch.setattr(engine, "SSH_CLIENT", ("ssh", "-F", str(tmp_path / "config")))  # no user's aliases
    assert address_of(docker_host) == address


def test_an_ssh_alias_is_the_host_name_openssh_gives_it(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.write_text("Host big\n    HostName 192.0.2.12\n    User admin\n")
    monkeypatch.setattr(engine, "SSH_CLIENT", ("ssh", "-F", str(config)))
    assert address_of("ssh://big") == "192.0.2.12"
    assert address_of("ssh://admin@192.0.2.13") == "192.0.2.13"  # a host the config does not name


def test_the_engine_is_docker_host_else_the_docker_context(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.3:2375")
    assert (docker_host(), engine_address()) == ("tcp://127.0.0.3:2375", "127.0.0.3")
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no context chosen: the local socket
    assert (docker_host(), engine_address()) == ("", "127.0.0.1")


@pytest.mark.parametrize(("docker_host", "error"), [
    ("tcp://no-such-engine.invalid:2375", "DOCKER_HOST=tcp://no-such-engine.invalid:2375: cannot resolve "
                                          "no-such-engine.invalid: "),
    ("ftp://192.0.2.10", "DOCKER_HOST=ftp://192.0.2.10: unknown scheme 'ftp' (unix://, tcp:// or ssh://)"),
])
def test_an_engine_address_that_cannot_be_had_is_one_line(docker_host, error):
    with pytest.raises(LabError) as raised:
        address_of(docker_host)
    assert str(raised.value).startswith(error)
    assert "\n" not in str(raised.value)
