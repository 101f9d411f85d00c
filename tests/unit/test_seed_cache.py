"""The seed cache without Docker: its key, its entries on disk, LRU eviction, `cache clear`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from maillab.runner.entry.cli import app
from maillab.runner.rehearsal.seed_cache import RECORD, SeedCache, cache_key, why_not
from maillab.runner.rehearsal.state import FolderState, HostState, UserState
from maillab.runner.schema.scenario import HostSpec, Scenario

from .fakes import FakeHost, Transcript

IMAGE = "sha256:" + "a" * 64


def scenario(**changes) -> Scenario:
    data = {"name": "cached", "description": "a scenario for the seed cache", "seed": 7,
            "hosts": {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}},
            "users": [{"address": "alice@example.org", "folders": [{"name": "INBOX", "count": 20}]}],
            "steps": [{"method": "copy_userdb"}, {"method": "doveadm_backup"}]}
    return Scenario.model_validate(data | changes)


def test_a_changed_scenario_seed_or_image_never_reuses_a_cache_entry():
    key = cache_key(scenario(), IMAGE)
    assert cache_key(scenario(), IMAGE) == key  # the same scenario, seed and image: the same entry
    changed = {
        "seed": cache_key(scenario(seed=8), IMAGE),
        "image": cache_key(scenario(), "sha256:" + "b" * 64),
        "mail": cache_key(scenario(users=[{"address": "alice@example.org",
                                           "folders": [{"name": "INBOX", "count": 21}]}]), IMAGE),
        "user": cache_key(scenario(users=[{"address": "bob@example.org",
                                           "folders": [{"name": "INBOX", "count": 20}]}]), IMAGE),
        "old": cache_key(scenario(hosts={"old": {"suite": "bullseye", "mail_format": "mdbox"},
                                         "new": {"suite": "bookworm"}}), IMAGE),
        "roundcube": cache_key(scenario(roundcube={"contacts": 2}), IMAGE),
    }
    assert len({key, *changed.values()}) == len(changed) + 1, changed


def test_what_seeding_does_not_read_keeps_the_entry():
    """The steps, their judging and new: a rehearsal of the admin's script after an edit reuses old."""
    key = cache_key(scenario(), IMAGE)
    assert cache_key(scenario(name="renamed", description="other words", steps=[{"method": "copy_userdb"}],
                              expect={"lost": ["flags"]}, idempotence=False,
                              hosts={"old": {"suite": "bullseye"}, "new": {"suite": "trixie"}}), IMAGE) == key


def test_mail_from_files_is_keyed_by_their_content(tmp_path):
    message = tmp_path / "one.eml"
    message.write_bytes(b"Subject: one\n\nfirst\n")
    mail = [{"address": "alice@example.org",
             "folders": [{"name": "INBOX", "messages": [{"raw_file": str(message)}]}]}]
    key = cache_key(scenario(users=mail), IMAGE)
    message.write_bytes(b"Subject: one\n\nsecond\n")
    assert cache_key(scenario(users=mail), IMAGE) != key


@pytest.mark.parametrize(("old", "reason"), [
    ({"suite": "bookworm", "server": "courier"}, "courier, seeded over IMAP"),
    ({"suite": "bookworm", "server": "cyrus"}, "cyrus, seeded over IMAP"),
    ({"suite": "bookworm", "server": "gmail"}, "gmail, seeded over IMAP"),
])
def test_a_host_seeded_over_imap_is_not_cached(old, reason):
    assert reason in why_not(scenario(hosts={"old": old, "new": {"suite": "bookworm"}}))
    assert why_not(scenario()) is None


class ArchivingHost(FakeHost):
    """A fake old whose Docker archives are bytes on the runner's disk."""

    def image_id(self) -> str:
        return IMAGE

    def save_archive(self, path: str, destination: Path) -> None:
        self.transcript.add(f"{self.role}: save {path}")
        destination.write_bytes(b"the mail store and the databases")

    def put_saved_archive(self, directory: str, archive: Path) -> None:
        self.transcript.add(f"{self.role}: put {archive.read_bytes().decode()} into {directory}")


def baseline() -> HostState:
    user = UserState(address="alice@example.org", folders={"INBOX": FolderState(name="INBOX", uidvalidity=1700000000)})
    return HostState(role="old", users={user.address: user}, user_db={"mailserver.virtual_users": {"1": {"id": "1"}}})


def test_an_entry_restores_what_was_kept(tmp_path):
    cache, transcript = SeedCache(tmp_path, cap_mb=10), Transcript()
    old = ArchivingHost("old", transcript, HostSpec(suite="bullseye"))
    key = cache.key_for(old, scenario())
    assert cache.restore(old, key) is None
    cache.save(old, key, {"alice@example.org": "secret"}, baseline(), 20)
    assert {oct(f.stat().st_mode & 0o777) for f in (tmp_path / key).iterdir()} == {"0o600"}
    restored = cache.restore(old, key)
    assert restored.passwords == {"alice@example.org": "secret"} and restored.written == 20
    # the rows are read again from the restored host: their password column is keyed per lab
    assert restored.baseline == baseline().model_copy(update={"user_db": {}})
    assert "old: put the mail store and the databases into /tmp" in transcript.text()
    cache.save(old, key, {"alice@example.org": "other"}, baseline(), 20)  # kept by another rehearsal first
    assert cache.restore(old, key).passwords == {"alice@example.org": "secret"}


class Interrupting(ArchivingHost):
    def save_archive(self, path: str, destination: Path) -> None:
        destination.write_bytes(b"half of it")
        raise KeyboardInterrupt  # a signal while old is being copied out


def test_an_entry_is_kept_whole_or_not_at_all(tmp_path):
    cache = SeedCache(tmp_path, cap_mb=10)
    with pytest.raises(KeyboardInterrupt):
        cache.save(Interrupting("old", Transcript(), HostSpec(suite="bullseye")), "a1", {}, baseline(), 0)
    assert list(tmp_path.iterdir()) == []


def entry(root: Path, key: str, megabytes: int, used: float) -> None:
    (root / key).mkdir(parents=True)
    (root / key / RECORD).write_text("{}")
    (root / key / "seed.tar").write_bytes(b"x" * (megabytes * 2**20 - 2))  # the entry: `megabytes` in all
    os.utime(root / key, (used, used))


def test_eviction_removes_the_least_recently_used_until_under_the_cap(tmp_path):
    for key, used in (("a1", 1000), ("b2", 3000), ("c3", 2000), ("d4", 4000)):
        entry(tmp_path, key, 1, used)
    cache = SeedCache(tmp_path, cap_mb=2)
    assert [e.key for e in cache.entries()] == ["a1", "c3", "b2", "d4"]
    assert [e.key for e in cache.evict()] == ["a1", "c3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b2", "d4"]


def test_a_restore_counts_as_a_use(tmp_path):
    cache, old = SeedCache(tmp_path, cap_mb=10), ArchivingHost("old", Transcript(), HostSpec(suite="bullseye"))
    cache.save(old, "a1", {}, baseline(), 0)
    cache.save(old, "b2", {}, baseline(), 0)
    os.utime(tmp_path / "a1", (1000, 1000))
    os.utime(tmp_path / "b2", (2000, 2000))
    cache.restore(old, "a1")
    assert [e.key for e in cache.entries()] == ["b2", "a1"]


def test_cache_clear_empties_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_CACHE_DIR", str(tmp_path))
    entry(tmp_path, "a1", 1, 1000)
    entry(tmp_path, "b2", 1, 2000)
    (tmp_path / ".new-half-written").mkdir()
    shown = CliRunner().invoke(app, ["cache"])
    assert shown.exit_code == 0 and "2 entries, 2.0 MB of 2048 MB" in shown.output and "a1" in shown.output
    cleared = CliRunner().invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and "2 entries removed" in cleared.output
    assert list(tmp_path.iterdir()) == []


class Rehearsed(Exception):
    """Where the fake rehearsal ends `maillab run` (no lab, no report)."""


@pytest.mark.parametrize(("options", "asked"), [([], (True, False)), (["--no-cache"], (False, False)),
                                              (["--standby"], (True, True))])
def test_run_no_cache_skips_the_cache_and_standby_leaves_a_lab(tmp_path, monkeypatch, options, asked):
    given = []

    def rehearse(scenario, keep=False, cache=True, standby=False):
        given.append((cache, standby))
        raise Rehearsed

    monkeypatch.setattr("maillab.runner.rehearsal.phases.rehearse", rehearse)
    monkeypatch.setattr("maillab.runner.entry.cli._name_stale_labs", lambda: None)  # no Docker here
    run = CliRunner().invoke(app, ["run", "scenarios/bullseye-to-bookworm.yaml", "--report-dir", str(tmp_path),
                                   *options])
    assert isinstance(run.exception, Rehearsed) and given == [asked]
