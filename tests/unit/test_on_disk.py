"""Snapshots on disk (runner/rehearsal/on_disk.py): a store of users reads back as the users put
in it, holds at most KEPT of them loaded, and the verdict and the snapshot files are the same
whether a snapshot's users are on disk or in a dict. No Docker."""

from __future__ import annotations

import gc
import weakref

from maillab.runner.methods.context import FlagChange
from maillab.runner.rehearsal.compare import judge
from maillab.runner.rehearsal.on_disk import KEPT, UsersOnDisk, read_snapshot, write_snapshot
from maillab.runner.rehearsal.state import Evidence, HostState
from maillab.runner.schema.scenario import Expectations

from .states import USER, message, state

USERS = 50


def many(count: int = USERS, role: str = "old") -> HostState:
    """states.py's host with `count` users, each its own mail (a message of its own in INBOX)."""
    host = state(role)
    [template] = host.users.values()
    users = {}
    for n in range(count):
        address = f"u{n}@example.org" if n else USER
        user = template.model_copy(deep=True, update={"address": address})
        user.folders["INBOX"].messages.append(message(4, f"u{n}-"))
        users[address] = user
    return host.model_copy(update={"users": users})


def on_disk(host: HostState) -> HostState:
    store = UsersOnDisk()
    for user in reversed(host.users.values()):  # the sessions of a snapshot finish in any order
        store.put(user)
    return host.model_copy(update={"users": store.ordered(list(host.users))})


def test_a_store_reads_back_every_user_as_put_and_in_order():
    host = many()
    stored = on_disk(host)
    assert isinstance(stored.users, UsersOnDisk)
    assert list(stored.users) == list(host.users) and len(stored.users) == USERS
    assert stored.users == host.users and stored == host
    assert "nobody@example.org" not in stored.users and stored.users.get("nobody@example.org") is None


def test_a_user_put_again_replaces_the_one_before():
    stored = on_disk(many(3))
    changed = stored.users[USER].model_copy(update={"login_error": "refused"})
    stored.users.put(changed)
    assert stored.users[USER] == changed and len(stored.users) == 3


def test_a_store_keeps_at_most_KEPT_users_loaded():
    stored = on_disk(many())
    alive = []
    for user in stored.users.values():
        alive.append(weakref.ref(user))
        del user
    gc.collect()
    assert sum(ref() is not None for ref in alive) <= KEPT


def test_asking_whether_a_user_is_there_loads_nobody():
    stored = on_disk(many())
    assert all(address in stored.users for address in many().users)
    assert all(address in stored.users.keys() for address in list(stored.users)[:3])
    assert len(stored.users._loaded) == 0  # noqa: SLF001


def test_a_snapshot_file_reads_back_as_itself_from_a_dict_or_a_store(tmp_path):
    for host in (many(), on_disk(many()), state().model_copy(update={"users": {}})):
        write_snapshot(host, tmp_path / "snapshot.json")
        read = read_snapshot(tmp_path / "snapshot.json")
        assert isinstance(read.users, UsersOnDisk) and read == host
        assert HostState.model_validate_json((tmp_path / "snapshot.json").read_bytes()) == host  # plain JSON too
        (tmp_path / "snapshot.json").unlink()
        assert read.users == host.users  # the store is the reader's own


def test_a_snapshot_file_written_whole_still_reads(tmp_path):
    (tmp_path / "baseline.json").write_text(many(3).model_dump_json(indent=1))
    assert read_snapshot(tmp_path / "baseline.json") == many(3)


def broken(host: HostState) -> HostState:
    for n, user in enumerate(host.users.values()):
        if n % 7 == 0:
            user.folders["INBOX"].messages.pop(0)
        if n % 11 == 0:
            user.folders["Archive"].uidvalidity = 999
    return host


def test_the_verdict_is_the_same_on_disk():
    """judge over dicts and over stores, with every transform of a snapshot on the way: mail
    sent to new, the cutover's traffic, mail and flag changes on old."""
    def evidence(store) -> Evidence:
        baseline, old, new, converged = (store(host) for host in (many(), many(), broken(many(role="new")),
                                                                  many(role="new")))
        return Evidence(baseline=baseline, old=old, new=new, converged=converged, arrivals=(),
                        old_mail=frozenset({"<a@x>"}), traffic=frozenset({"<b@x>"}),
                        old_flags=(FlagChange(user="u3@example.org", folder="INBOX", uids=(1,), add=("\\Flagged",),
                                              remove=()),))
    expect = Expectations()
    in_memory, stored = judge(evidence(lambda host: host), expect), judge(evidence(on_disk), expect)
    assert stored == in_memory
    assert {f.kind for f in stored} >= {"missing", "uidvalidity_changed", "source_changed", "not_idempotent"}

