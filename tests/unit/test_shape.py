"""The shape of a captured server, as tables: what FETCH returned for a folder -> the scenario
folder it becomes; a captured user -> the scenario it becomes, which the loader takes (or
refuses with the line that names what the lab cannot hold). No server is involved."""

import datetime as dt
import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from maillab.runner.entry.capture import MaildirWriter, personal
from maillab.runner.schema.loader import ScenarioError, load_scenario
from maillab.runner.schema.sources import maildir_tree
from maillab.runner.schema.shape import (
    FolderTally, UserShape, folder_fragment, generated_address, host_namespace, scenario_document, sieve_stand_in,
)
from maillab.runner.schema.vocabulary import MESSAGE_MAX

UTC = dt.timezone.utc
DAY = dt.datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
SEEN, ANSWERED, FLAGGED, RECENT = "\\Seen", "\\Answered", "\\Flagged", "\\Recent"

# (folder name, subscribed, messages as FETCH gave them: (FLAGS, RFC822.SIZE, INTERNALDATE)) -> fragment
FOLDERS = {
    "an empty folder has no shares, and its flags say so (not the schema's default)": (
        ("Empty", False, []),
        {"name": "Empty", "subscribed": False, "count": 0, "flags": {}}),
    "shares per flag and keyword; \\Recent and unknown system flags are left out": (
        ("INBOX", True, [((SEEN, RECENT, "$Forwarded"), 300, DAY), ((SEEN, ANSWERED, "\\Junk"), 5000, DAY),
                         ((SEEN,), 1200, DAY), ((RECENT,), 800, DAY)]),
        {"name": "INBOX", "subscribed": True, "count": 4, "flags": {SEEN: 0.75, ANSWERED: 0.25},
         "keywords": {"$Forwarded": 0.25}, "sizes": [300, 5000], "attachments": 0,
         "dates": [DAY.date(), DAY.date()]}),
    "a flag given twice counts once; shares are rounded to 4 digits": (
        ("Archive/2023", True, [((FLAGGED, FLAGGED, "Work", "Work"), 10, DAY), ((), 10, DAY), ((), 10, DAY)]),
        {"name": "Archive/2023", "subscribed": True, "count": 3, "flags": {FLAGGED: 0.3333},
         "keywords": {"Work": 0.3333}, "sizes": [10, 10], "attachments": 0, "dates": [DAY.date(), DAY.date()]}),
    "dates are UTC days: 00:30 at +02:00 is the day before": (
        ("Sent", False, [((SEEN,), 100, dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
                         ((SEEN,), 100, dt.datetime(2022, 6, 1, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))))]),
        {"name": "Sent", "subscribed": False, "count": 2, "flags": {SEEN: 1.0}, "sizes": [100, 100],
         "attachments": 0, "dates": [dt.date(2022, 6, 2), dt.date(2023, 12, 31)]}),
    "sizes stay within what the lab generates (at least a byte, at most MESSAGE_MAX)": (
        ("Big", True, [((), 0, DAY), ((), MESSAGE_MAX * 3, DAY)]),
        {"name": "Big", "subscribed": True, "count": 2, "flags": {}, "sizes": [1, MESSAGE_MAX], "attachments": 0,
         "dates": [DAY.date(), DAY.date()]}),
}


def tally_of(name: str, subscribed: bool, messages) -> FolderTally:
    tally = FolderTally(name, subscribed=subscribed)
    for flags, size, date in messages:
        tally.add(flags, size, date)
    return tally


@pytest.mark.parametrize(("facts", "fragment"), FOLDERS.values(), ids=FOLDERS.keys())
def test_fetched_folder_becomes_its_scenario_folder(facts, fragment):
    assert folder_fragment(tally_of(*facts)) == fragment


def test_the_size_spread_is_kept_beside_the_range():
    tally = tally_of("INBOX", True, [((), size, DAY) for size in range(100, 1100)])
    assert folder_fragment(tally).ca.items["sizes"][2].value.strip() == \
        "# RFC822.SIZE on the server: median 600, 90 % up to 1000"


NAMESPACES = [("", "/", "dovecot"), ("INBOX.", ".", "courier"), ("inbox.", ".", "courier"),
              ("", ".", "dovecot"), ("INBOX/", "/", "dovecot")]


@pytest.mark.parametrize(("prefix", "separator", "style"), NAMESPACES)
def test_host_namespace(prefix, separator, style):
    assert host_namespace(prefix, separator) == style


# a listed name, the personal namespace's prefix, the other namespaces' prefixes -> captured?
PERSONAL = [
    ("INBOX", "INBOX.", ["shared."], True),
    ("inbox", "INBOX.", [], True),
    ("INBOX.Archive", "INBOX.", ["shared."], True),
    ("shared.team.INBOX", "INBOX.", ["shared."], False),
    ("Archive/2023", "", ["Shared/", "Users/"], True),
    ("Shared/team/Plans", "", ["Shared/", "Users/"], False),
    ("Users/bob/INBOX", "", ["Shared/", "Users/"], False),
    ("Public", "INBOX.", [], False),
    ("Archive", "", ["", "Shared/"], True),  # an empty prefix elsewhere claims no name
]


@pytest.mark.parametrize(("name", "prefix", "others", "captured"), PERSONAL)
def test_only_the_personal_namespace_is_captured(name, prefix, others, captured):
    assert personal(name, prefix, others) is captured


def written(tmp_path: Path, document) -> Path:
    path = tmp_path / "captured.yaml"
    with path.open("w") as file:
        YAML().dump(document, file)
    return path


ALICE = UserShape(
    folders=[tally_of("INBOX", True, [((SEEN,), 500, DAY)] * 3), tally_of("Kunden/Müller GmbH", False, []),
             tally_of("Kunden/Müller GmbH/2024", True, [((), 700, DAY)])],
    namespace="courier", stray_subscriptions=2, sieve_scripts=["filters", "vacation"], sieve_active="filters")
BOB = UserShape(folders=[tally_of("INBOX", False, [])], namespace="courier")


def test_a_captured_server_becomes_a_scenario_the_loader_takes(tmp_path):
    path = written(tmp_path, scenario_document({generated_address(1): ALICE, generated_address(2): BOB}))
    scenario = load_scenario(path)
    alice, bob = scenario.users
    assert (alice.address, bob.address) == ("user1@example.org", "user2@example.org")
    assert [(f.name, f.subscribed, f.count) for f in alice.folders] == [
        ("INBOX", True, 3), ("Kunden/Müller GmbH", False, 0), ("Kunden/Müller GmbH/2024", True, 1)]
    assert alice.folders[1].flags == {} and alice.folders[0].flags == {SEEN: 1.0}
    assert alice.sieve.scripts == {name: sieve_stand_in(name) for name in ("filters", "vacation")}
    assert alice.sieve.active == "filters" and bob.sieve is None
    assert {role: host.namespace for role, host in scenario.hosts.items()} == {"old": "courier", "new": "dovecot"}
    assert [step.method for step in scenario.steps] == ["copy_userdb", "imapc"]
    assert scenario.expect.lost == ["sieve", "guids"]
    text = path.read_text()
    assert text.startswith("# Captured by maillab capture") and "set your own suites, formats and steps" in text
    assert "(scenarios/imapc-courier.yaml)" in text
    assert "also subscribed to 2 names that are no selectable folder" in text


def test_a_dovecot_style_server_gets_the_default_rehearsals_migration(tmp_path):
    scenario = load_scenario(written(tmp_path, scenario_document({generated_address(1): UserShape(folders=[])})))
    assert {role: host.namespace for role, host in scenario.hosts.items()} == {"old": "dovecot", "new": "dovecot"}
    assert [step.method for step in scenario.steps] == ["copy_userdb", "doveadm_backup"]
    assert scenario.expect.lost == []


def test_the_users_namespaces_differ_and_the_header_says_so(tmp_path):
    path = written(tmp_path, scenario_document({"a@example.org": ALICE, "b@example.org": UserShape(folders=[])}))
    assert "The users' namespaces differ (courier, dovecot); the hosts show courier." in path.read_text()


def test_what_the_lab_cannot_hold_is_refused_at_the_line_that_holds_it(tmp_path):
    slashed = UserShape(folders=[tally_of("INBOX", True, []), tally_of("back\\slash", True, [])])
    path = written(tmp_path, scenario_document({generated_address(1): slashed}))
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "slash" in text)
    assert f"captured.yaml:{line}: users[0].folders[1].name" in str(refused.value)


def test_dotted_names_are_kept_with_listescape_on_both_hosts_and_exported_escaped(tmp_path):
    dotted = UserShape(folders=[tally_of("INBOX", True, []), tally_of("Projects/v1.2", True, [])])
    scenario = load_scenario(written(tmp_path, scenario_document({generated_address(1): dotted})))
    assert (scenario.hosts["old"].listescape_char, scenario.hosts["new"].listescape_char) == ("\\", "\\")
    assert [folder.name for folder in scenario.users[0].folders] == ["INBOX", "Projects/v1.2"]
    writer = MaildirWriter(tmp_path / "export")
    writer.user("user1@example.org")
    writer.folder("Projects/v1.2").close()
    writer.folder("INBOX").close()
    root = tmp_path / "export" / "user1@example.org"
    assert (root / ".Projects.v1\\2e2").is_dir()
    assert list(maildir_tree(root)) == ["INBOX", "Projects/v1.2"]


def test_exported_mail_is_a_maildir_with_flags_keywords_and_dates(tmp_path):
    writer = MaildirWriter(tmp_path)
    writer.user("user1@example.org")
    folder = writer.folder("Archiv/Älter")
    folder.write(7, b"Subject: a\r\n\r\nx\r\n", [SEEN, FLAGGED, RECENT, "Work", "$Forwarded"], DAY)
    folder.write(9, b"Subject: b\r\n\r\ny\r\n", ["$Forwarded"], DAY + dt.timedelta(days=1))
    folder.close()
    path = tmp_path / "user1@example.org" / ".Archiv.&AMQ-lter"
    assert (path / "maildirfolder").exists() and (path / "new").is_dir() and (path / "tmp").is_dir()
    assert (path / "dovecot-keywords").read_text() == "0 Work\n1 $Forwarded\n"
    files = sorted((path / "cur").iterdir())
    assert [f.name.split(":2,")[1] for f in files] == ["FSab", "b"]
    assert [os.stat(f).st_mtime for f in files] == [DAY.timestamp(), DAY.timestamp() + 86400]
    assert files[0].read_bytes() == b"Subject: a\r\n\r\nx\r\n"
    inbox = writer.folder("INBOX")
    assert inbox.path == tmp_path / "user1@example.org" and not (inbox.path / "maildirfolder").exists()
