"""The scenario schema: valid files load; every wrong file gives one line naming file, line and
field, at load time (exit 2 from `maillab validate`), never later at seeding.

The corpus in bad-scenarios/ is data: each file's first line says `# expect: LINE: FRAGMENT`,
the line the error must name and a fragment of its message. The harness is the code below.
"""

import datetime as dt
import email
import os
import re
from pathlib import Path

import pytest

from maillab.runner.rehearsal.messages import folder_messages
from maillab.runner.rehearsal.seed import user_archive
from maillab.runner.schema.loader import MAX_BYTES, ScenarioError, load_scenario
from maillab.runner.schema.scenario import Scenario
from maillab.runner.schema.vocabulary import maildir_folder_path

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parents[1] / "scenarios"
CORPUS = sorted((HERE / "bad-scenarios").glob("*.yaml"))
EXPECT = re.compile(rb"# expect: (\d+): (.*)")

VALID = """\
name: t
description: a test
hosts:
  old: {suite: bullseye}
  new: {suite: bookworm}
users:
  - address: a@example.org
    folders:
      - name: INBOX
        count: 3
steps:
  - method: copy_userdb
  - method: doveadm_backup
"""


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    return message


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 60


@pytest.mark.timeout(5)  # a hang is the bug: the loader must refuse before it reads forever
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_each_bad_scenario_is_one_line_naming_file_line_and_field(path):
    line, fragment = EXPECT.match(path.read_bytes().split(b"\n", 1)[0]).groups()
    message = error_of(path)
    assert message.startswith(f"{path}:{line.decode()}: "), message
    assert fragment.decode() in message, message


@pytest.mark.timeout(5)
@pytest.mark.parametrize(("case", "make", "fragment"), [
    ("a FIFO", lambda p: os.mkfifo(p), "not a regular file"),
    ("a directory", lambda p: p.mkdir(), "not a regular file"),
    ("a file of 50 MB", lambda p: p.write_bytes(b"#" * 50_000_000), f"a scenario file has at most {MAX_BYTES}"),
    ("a missing file", lambda p: None, "cannot read the scenario"),
], ids=lambda c: c if isinstance(c, str) else "")
def test_files_that_are_not_scenarios_are_refused_without_reading_them(tmp_path, case, make, fragment):
    path = tmp_path / "scenario.yaml"
    make(path)
    assert fragment in error_of(path)


@pytest.mark.timeout(5)
def test_a_device_is_refused():
    assert "not a regular file" in error_of(Path("/dev/zero"))


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path):
    assert load_scenario(path).users


def load_text(tmp_path: Path, text: str) -> Scenario:
    (tmp_path / "s.yaml").write_text(text)
    return load_scenario(tmp_path / "s.yaml")


@pytest.mark.parametrize(("what", "old", "new"), [
    ("a + address", "a@example.org", "zoe+tag@example.org"),
    ("an address starting with -", "a@example.org", "-bob@example.org"),
    ("a folder starting with -", "name: INBOX", "name: -Archive"),
    ("a folder with spaces and umlauts", "name: INBOX", "name: Entwürfe & Notizen/2024"),
    ("a written-out date with an offset", "count: 3",
     "count: 3\n        messages: [{subject: x, date: 2024-05-01T10:00:00+02:00}]"),
    ("30 keywords in one folder", "count: 3", "count: 3\n        keywords: {" +
     ", ".join(f"k{n}: 0.5" for n in range(30)) + "}"),
    ("YAML anchors and aliases", "hosts:\n  old: {suite: bullseye}\n  new: {suite: bookworm}",
     "hosts:\n  old: &host {suite: bookworm}\n  new: *host"),
])
def test_what_real_servers_hold_is_accepted(tmp_path, what, old, new):
    assert load_text(tmp_path, VALID.replace(old, new))


def test_a_written_date_keeps_its_offset_in_the_date_header(tmp_path):
    scenario = load_text(tmp_path, VALID.replace("count: 3", "messages: [{subject: x, date: 2024-05-01T10:00:00+02:00}]"))
    user = scenario.users[0]
    [message] = folder_messages(scenario.seed, user, user.folders[0])
    parsed = email.message_from_bytes(message.raw)
    assert parsed["Date"] == "Wed, 01 May 2024 10:00:00 +0200"
    assert message.internaldate == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


def test_keywords_beyond_maildirs_26_letters_are_set_through_dovecot(tmp_path):
    keywords = ", ".join(f"k{n:02d}: 1.0" for n in range(30))
    scenario = load_text(tmp_path, VALID.replace("count: 3", f"count: 3\n        keywords: {{{keywords}}}"))
    archive = user_archive(scenario.seed, scenario.users[0], home="d/u", maildir_parent="d/u")
    assert sorted(archive.extra_keywords["INBOX"]) == ["k26", "k27", "k28", "k29"]
    assert all(len(guids) == 3 for guids in archive.extra_keywords["INBOX"].values())


def test_both_spellings_of_expectations_load(tmp_path):
    lost = load_text(tmp_path, VALID + "expect:\n  lost: [sieve, guids]\n").expect
    assert not lost.must_hold("sieve") and lost.must_hold("messages")
    preserved = load_text(tmp_path, VALID + "expect:\n  preserved: [messages]\n").expect
    assert preserved.must_hold("messages") and not preserved.must_hold("sieve")


def test_same_seed_gives_byte_identical_mail_and_another_seed_does_not():
    scenario = load_scenario(SCENARIOS / "negative-mbsync.yaml")
    user = scenario.users[0]
    first = user_archive(scenario.seed, user, home="d/u", maildir_parent="d/u")
    second = user_archive(scenario.seed, user, home="d/u", maildir_parent="d/u")
    other = user_archive(scenario.seed + 1, user, home="d/u", maildir_parent="d/u")
    assert first.count == sum(f.count for f in user.folders)
    assert first.tar == second.tar
    assert first.tar != other.tar


@pytest.mark.parametrize(("name", "directory"), [
    ("INBOX", ""), ("Archive/2023", ".Archive.2023"), ("Entwürfe", ".Entw&APw-rfe"), ("日本語", ".&ZeVnLIqe-"),
])
def test_maildir_folder_paths_are_maildirplusplus_in_mutf7(name, directory):
    assert maildir_folder_path(name) == directory


def test_default_scenario_covers_what_the_first_issue_asked_for():
    scenario = load_scenario(SCENARIOS / "bullseye-to-bookworm.yaml")
    folders = [folder for user in scenario.users for folder in user.folders]
    assert len(scenario.users) >= 3
    assert 1800 <= scenario.message_count <= 2200
    assert any("/" in f.name for f in folders), "nested folders"
    assert any(not f.name.isascii() for f in folders), "non-ASCII folder names"
    assert any(f.count == 0 and not f.messages for f in folders), "an empty folder"
    assert any(not f.subscribed for f in folders), "unsubscribed folders"
    assert any(f.keywords for f in folders) and any(f.flags for f in folders)
    assert any(m.attachments for f in folders for m in f.messages), "explicit attachments"
    assert any(u.sieve and u.sieve.active for u in scenario.users), "an active Sieve script"


def test_maildir_has_a_letter_for_every_system_flag():
    from maillab.runner.rehearsal.seed import MAILDIR_FLAG_LETTERS
    from maillab.runner.schema.vocabulary import SYSTEM_FLAGS
    assert set(MAILDIR_FLAG_LETTERS) == set(SYSTEM_FLAGS)
