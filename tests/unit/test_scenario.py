"""The scenario schema: valid files load; each wrong file gives one line naming file, line and field."""

from pathlib import Path

import pytest

from runner.scenario import ScenarioError, load_scenario
from runner.seed import maildir_folder_path, user_archive

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

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

# (case, text replacing a line of VALID or a whole file, expected line, expected message fragment)
BAD = [
    ("unknown suite", VALID.replace("suite: bookworm", "suite: buster"), 5, "hosts.new.suite: Input should be"),
    ("negative count", VALID.replace("count: 3", "count: -1"), 10, "users[0].folders[0].count"),
    ("unknown field", VALID.replace("count: 3", "count: 3\n        colour: red"), 11, "users[0].folders[0].colour: unknown field"),
    ("unknown method", VALID.replace("method: doveadm_backup", "method: imapsync2"), 13, "unknown method 'imapsync2'"),
    ("step option", VALID.replace("method: doveadm_backup", "method: doveadm_backup\n    direction: sideways"),
     14, "steps[1].direction"),
    ("bad address", VALID.replace("a@example.org", "not-an-address"), 7, "users[0].address"),
    ("dot in folder", VALID.replace("name: INBOX", "name: Archive.2023"), 9, "users[0].folders[0].name"),
    ("bad keyword", VALID.replace("count: 3", "count: 3\n        keywords: {'bad word': 0.5}"), 11, "not a valid IMAP keyword"),
    ("missing hosts", VALID.replace("hosts:\n  old: {suite: bullseye}\n  new: {suite: bookworm}\n", ""), 1, "hosts: Field required"),
    ("unknown user in step", VALID.replace("method: doveadm_backup", "method: doveadm_backup\n    users: [x@example.org]"),
     13, "steps[1]: users not in the scenario: x@example.org"),
    ("script not found", VALID.replace("method: doveadm_backup", "method: script\n    path: scripts/nope.sh"),
     13, "steps[1]: script 'scripts/nope.sh' not found"),
    ("imapsync without the script", VALID.replace("method: doveadm_backup", "method: imapsync\n    script: imapsync"),
     13, "imapsync is in no Debian suite: put your copy there"),
    ("script on an unknown machine", VALID.replace("method: doveadm_backup", "method: script\n    path: x.sh\n    on: db"),
     15, "steps[1].on"),
    ("imapc into a Courier namespace", VALID.replace("suite: bookworm}", "suite: bookworm, namespace: courier}")
     .replace("method: doveadm_backup", "method: imapc"), 13, "imapc pulls into a server with Dovecot's default"),
    ("unknown compression", VALID.replace("suite: bookworm}", "suite: bookworm, compression: rar}"), 5,
     "hosts.new.compression"),
    ("db change without database", VALID + "expect:\n  db_changes: [{table: users, column: mail_host, value: new}]\n",
     15, "expect.db_changes[0].table"),
    ("not yaml", "name: [unclosed\n", 2, "not valid YAML"),
    ("not a mapping", "- just\n- a list\n", 1, "a scenario is a mapping"),
]


@pytest.mark.parametrize(("case", "text", "line", "fragment"), BAD, ids=[case[0] for case in BAD])
def test_bad_scenarios_name_file_line_and_field(tmp_path, case, text, line, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message
    assert "\n" not in message


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path):
    assert load_scenario(path).users


def test_default_scenario_covers_what_the_issue_asks_for():
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


def test_same_seed_gives_byte_identical_mail_and_another_seed_does_not():
    scenario = load_scenario(SCENARIOS / "negative-mbsync.yaml")
    user = scenario.users[0]
    first, count = user_archive(scenario.seed, user, home="d/u", maildir_parent="d/u")
    second, _ = user_archive(scenario.seed, user, home="d/u", maildir_parent="d/u")
    other, _ = user_archive(scenario.seed + 1, user, home="d/u", maildir_parent="d/u")
    assert count == sum(f.count for f in user.folders)
    assert first == second
    assert first != other


@pytest.mark.parametrize(("name", "directory"), [
    ("INBOX", ""), ("Archive/2023", ".Archive.2023"), ("Entwürfe", ".Entw&APw-rfe"), ("日本語", ".&ZeVnLIqe-"),
])
def test_maildir_folder_paths_are_maildirplusplus_in_mutf7(name, directory):
    assert maildir_folder_path(name) == directory
