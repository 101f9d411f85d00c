"""Mail from the admin's files (runner/schema/sources.py): flags, keywords, dates and bytes, read as
Dovecot and Python's mailbox take them; and the loader's refusals of paths that are not there.

Each case is a row of a table; the harness writes the files into a temporary directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import stat
import tarfile
from pathlib import Path

import pytest

from maillab.runner.rehearsal.seed import user_archive
from maillab.runner.schema.loader import ScenarioError, load_scenario
from maillab.runner.schema.scenario import MailSource, RawMessageSpec
from maillab.runner.schema.sources import (
    eml_messages, maildir_messages, maildir_tree, mbox_messages, raw_message, source_messages,
)

from .test_scenario import VALID

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scenarios" / "data"
UTC = dt.timezone.utc
MESSAGE = b"From: a@example.org\nSubject: s\nMessage-ID: <1@example.org>\n\nbody\n"
STAMP = 1_700_000_000  # 2023-11-14T22:13:20Z


def maildir(path: Path, files: dict[str, bytes], keywords: str | None = None) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    if keywords is not None:
        (path / "dovecot-keywords").write_text(keywords)
    for name, content in files.items():
        (path / name).write_bytes(content)
        os.utime(path / name, (STAMP, STAMP))
    return path


@pytest.mark.parametrize(("name", "keywords", "flags", "expected_keywords"), [
    ("cur/1.M1.host:2,", None, (), ()),
    ("cur/1.M1.host:2,S", None, ("\\Seen",), ()),
    ("cur/1.M1.host:2,DFRST", None, ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"), ()),
    ("cur/1.M1.host:2,PS", None, ("\\Seen",), ()),  # P (passed) has no IMAP flag
    ("cur/1.M1.host:2,Sab", "0 $Forwarded\n1 Work\n", ("\\Seen",), ("$Forwarded", "Work")),
    ("cur/1.M1.host:2,Sc", "0 $Forwarded\n2 Privat\n", ("\\Seen",), ("Privat",)),
    ("cur/1.M1.host:2,Sb", "0 $Forwarded\n", ("\\Seen",), ()),  # a letter no keyword has
    ("new/1.M1.host", None, (), ()),  # delivered, never seen by a client
], ids=lambda v: v if isinstance(v, str) and "/" in v else None)
def test_maildir_flags_and_keywords_come_from_the_file_name(tmp_path, name, keywords, flags, expected_keywords):
    [message] = maildir_messages(maildir(tmp_path, {name: MESSAGE}, keywords))
    assert (message.flags, message.keywords) == (flags, expected_keywords)
    assert message.internaldate == dt.datetime.fromtimestamp(STAMP, UTC)  # the file's mtime, as Dovecot
    assert message.raw == MESSAGE


def test_maildir_skips_dot_files_as_dovecot_does(tmp_path):
    box = maildir(tmp_path, {"cur/.gitkeep": b"", "cur/2.M2.host:2,S": MESSAGE, "new/1.M1.host": MESSAGE})
    assert [m.flags for m in maildir_messages(box)] == [(), ("\\Seen",)]  # in file-name order


@pytest.mark.parametrize(("directories", "folders"), [
    ([], ["INBOX"]),
    ([".Sent", ".Archive", ".Archive.2023"], ["INBOX", "Archive", "Archive/2023", "Sent"]),
    ([".Entw&APw-rfe", ".&ZeVnLIqe-"], ["INBOX", "Entwürfe", "日本語"]),
    ([".Mr&ACA-Smith"], ["INBOX", "Mr Smith"]),
    (["cur2", ".NotAFolder/x"], ["INBOX"]),  # no cur/ in it: not a Maildir++ folder
])
def test_a_maildirplusplus_tree_maps_to_folders(tmp_path, directories, folders):
    maildir(tmp_path, {})
    for directory in directories:
        if "/" in directory:
            (tmp_path / directory).mkdir(parents=True)
        else:
            maildir(tmp_path / directory, {})
    assert sorted(maildir_tree(tmp_path)) == sorted(folders)


MBOX_MESSAGE = "From {sender} {from_date}\n{headers}Subject: s\n\nbody\n>From quoted\n"


@pytest.mark.parametrize(("from_date", "headers", "flags", "keywords", "internaldate"), [
    ("Tue Mar  5 08:15:02 2024", "", (), (), dt.datetime(2024, 3, 5, 8, 15, 2, tzinfo=UTC)),
    ("Tue Mar  5 08:15:02 2024", "Status: RO\n", ("\\Seen",), (), dt.datetime(2024, 3, 5, 8, 15, 2, tzinfo=UTC)),
    ("Tue Mar  5 08:15:02 2024", "Status: O\n", (), (), dt.datetime(2024, 3, 5, 8, 15, 2, tzinfo=UTC)),
    ("Tue Mar  5 08:15:02 2024", "Status: RO\nX-Status: AFDT\n",
     ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"), (), dt.datetime(2024, 3, 5, 8, 15, 2, tzinfo=UTC)),
    ("Tue Mar  5 08:15:02 2024", "X-Keywords: Work $Forwarded\n", (), ("$Forwarded", "Work"),
     dt.datetime(2024, 3, 5, 8, 15, 2, tzinfo=UTC)),
    # no date on the From line: the Date header, else the file's mtime
    ("", "Date: Wed, 06 Mar 2024 18:40:00 +0100\n", (), (), dt.datetime(2024, 3, 6, 17, 40, tzinfo=UTC)),
    ("", "", (), (), dt.datetime.fromtimestamp(STAMP, UTC)),
])
def test_mbox_status_headers_and_from_line_dates(tmp_path, from_date, headers, flags, keywords, internaldate):
    path = tmp_path / "box.mbox"
    path.write_text(MBOX_MESSAGE.format(sender="a@example.org", from_date=from_date, headers=headers)
                    + MBOX_MESSAGE.format(sender="b@example.org", from_date="Thu Mar  7 09:00:00 2024", headers=""))
    os.utime(path, (STAMP, STAMP))
    first, second = mbox_messages(path)
    assert (first.flags, first.keywords, first.internaldate) == (flags, keywords, internaldate)
    # the bytes between the From lines, unchanged: the status headers stay, '>From' stays quoted
    assert first.raw == f"{headers}Subject: s\n\nbody\n>From quoted\n".encode()
    assert second.internaldate == dt.datetime(2024, 3, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("content", "internaldate"), [
    (b"Date: Sat, 12 Oct 2024 14:03:27 +0200\r\nSubject: s\r\n\r\nbody\r\n", dt.datetime(2024, 10, 12, 12, 3, 27, tzinfo=UTC)),
    (b"Subject: no date\n\nbody\n", dt.datetime.fromtimestamp(STAMP, UTC)),
    (b"Date: not a date\nSubject: s\n\nbody\n", dt.datetime.fromtimestamp(STAMP, UTC)),
])
def test_eml_dates_come_from_the_date_header_else_the_mtime(tmp_path, content, internaldate):
    (tmp_path / "a.eml").write_bytes(content)
    (tmp_path / "notes.txt").write_bytes(b"not mail")
    os.utime(tmp_path / "a.eml", (STAMP, STAMP))
    [message] = eml_messages(tmp_path)
    assert (message.raw, message.flags, message.internaldate) == (content, (), internaldate)


@pytest.mark.parametrize(("raw", "size", "date", "internaldate"), [
    (b"Subject: x\n\nline\n", None, None, dt.datetime(2020, 1, 1, tzinfo=UTC)),
    (b"Date: Mon, 01 Jan 2024 10:00:00 +0000\nSubject: x\n\n0123456789\n", 1000, None,
     dt.datetime(2024, 1, 1, 10, tzinfo=UTC)),
    (b"Subject: x\r\n\r\nab\r\n", 999, dt.datetime(2023, 5, 1, 12, tzinfo=UTC), dt.datetime(2023, 5, 1, 12, tzinfo=UTC)),
])
def test_raw_messages_keep_their_bytes_and_grow_to_their_size(raw, size, date, internaldate):
    message = raw_message(RawMessageSpec(raw=raw, size=size, date=date))
    assert message.internaldate == internaldate
    if size is None:
        assert message.raw == raw
    else:
        head, body = raw.split(b"\n\n" if b"\r" not in raw else b"\r\n\r\n", 1)
        assert len(message.raw) == size
        assert message.raw.startswith(raw) and message.raw[len(raw):].startswith(body)


def crlf(raw: bytes) -> bytes:
    """What IMAP serves of a stored message: every bare LF as CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def test_the_shipped_scenario_seeds_every_file_byte_for_byte():
    scenario = load_scenario(ROOT / "scenarios/imported-maildir.yaml")
    dana, erin = scenario.users
    folders = {folder.name: folder for folder in dana.folders}
    assert sorted(folders) == ["Archive", "Archive/2023", "Entwürfe", "INBOX", "Sent"]
    assert not folders["Archive"].subscribed  # listed in the scenario: its settings there
    files = [p for p in (DATA / "maildir").rglob("*") if p.is_file() and p.parent.name in ("cur", "new")
             and not p.name.startswith(".")]
    assert len(files) == 20
    for user, expected in ((dana, sorted(p.read_bytes() for p in files)),
                           (erin, None)):
        archive = user_archive(scenario.seed, user, home="d/u", maildir_parent="d/u")
        members = tarfile.open(fileobj=io.BytesIO(archive.tar))
        stored = {m.name: members.extractfile(m).read() for m in members.getmembers() if "/cur/" in m.name}
        for name, content in stored.items():  # W= is the size IMAP serves (CRLF line ends)
            assert f",S={len(content)},W={len(crlf(content))}:" in name
        if expected is not None:
            assert sorted(stored.values()) == expected
    assert {hashlib.sha256(m.raw).hexdigest() for m in source_messages(erin.folders[1].source)} == \
        {hashlib.sha256(m.raw).hexdigest() for m in mbox_messages(DATA / "mbox/lists.mbox")}


def test_source_paths_are_made_absolute_relative_to_the_scenario(tmp_path):
    scenario = load_scenario(ROOT / "scenarios/imported-maildir.yaml")
    sources = [folder.source for user in scenario.users for folder in user.folders if folder.source]
    assert all(Path(source.path).is_absolute() and Path(source.path).exists() for source in sources)
    assert MailSource(eml="x").kind == "eml"


# test_scenario's valid scenario, its user's folders to be filled in
SCENARIO = VALID.replace("    folders:\n      - name: INBOX\n        count: 3\n", "    FIELD\n")
assert "FIELD" in SCENARIO


@pytest.mark.parametrize(("field", "make", "fragment"), [
    ("import: {maildir: tree}", lambda p: maildir(p / "tree", {}) and maildir(p / "tree/.a%b", {}),
     "users[0].import.maildir: folder directory '.a%b':"),
    ("import: {maildir: tree}", lambda p: (p / "tree").mkdir(), "users[0].import.maildir: tree: not a Maildir (no cur/"),
    ("folders: [{name: L, source: {mbox: fifo}}]", lambda p: os.mkfifo(p / "fifo"),
     "users[0].folders[0].source: fifo: not a regular file"),
    ("folders: [{name: L, source: {maildir: box}}]", lambda p: (p / "box/cur").mkdir(parents=True),
     "users[0].folders[0].source: box: not a Maildir (no new/"),
    ("folders: [{name: L, messages: [{raw_file: big.eml, size: 10}]}]", lambda p: (p / "big.eml").write_bytes(b"x" * 20),
     "users[0].folders[0].messages[0].raw_file: size 10 is smaller than the file (20 bytes)"),
], ids=["bad-folder-name-in-tree", "tree-not-a-maildir", "mbox-fifo", "maildir-without-new", "raw-file-bigger-than-size"])
def test_mail_files_that_cannot_be_read_are_refused_at_load(tmp_path, field, make, fragment):
    make(tmp_path)
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("FIELD", field))
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "s.yaml")
    assert str(raised.value).startswith(f"{tmp_path / 's.yaml'}:8: "), raised.value
    assert fragment in str(raised.value)


@pytest.mark.parametrize(("field", "make", "refused"), [
    ("folders: [{name: L, source: {mbox: big.mbox}}]", lambda p: (p / "big.mbox").write_bytes(b"x" * 17 * 2**20), True),
    ("folders: [{name: L, source: {mbox: big.mbox}}]", lambda p: (p / "big.mbox").write_bytes(b"x" * 15 * 2**20), False),
    ("folders: [{name: L, source: {eml: mails}}]",
     lambda p: [(p / "mails").mkdir(), *((p / f"mails/{n}.eml").write_bytes(b"x" * 6 * 2**20) for n in range(3))], True),
    ("import: {maildir: tree}", lambda p: maildir(p / "tree", {f"cur/{n}.M:2,S": b"x" * 9 * 2**20 for n in range(2)}), True),
    ("folders: [{name: L, messages: [{raw_file: a.eml}]}]", lambda p: (p / "a.eml").write_bytes(b"x" * 17 * 2**20), True),
], ids=["mbox-too-big", "mbox-fits", "emls-too-big", "tree-too-big", "raw-file-too-big"])
def test_mail_files_must_fit_on_a_host(tmp_path, field, make, refused):
    make(tmp_path)
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("FIELD", field).replace("{suite: bookworm}",
                                                                               "{suite: bookworm, mail_store_mb: 16}"))
    if not refused:
        assert load_scenario(tmp_path / "s.yaml")
        return
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "s.yaml")
    assert str(raised.value).startswith(f"{tmp_path / 's.yaml'}:7: users[0]: with the mail in its files"), raised.value
    assert "a lab host holds 16 MiB" in str(raised.value)


def test_an_imported_tree_merges_with_the_folders_listed(tmp_path):
    maildir(tmp_path / "tree", {"cur/1.M1.host:2,S": MESSAGE})
    maildir(tmp_path / "tree/.Sent", {"cur/2.M2.host:2,S": MESSAGE})
    maildir(tmp_path / "tree/.Old", {"cur/3.M3.host:2,S": MESSAGE})
    (tmp_path / "sent.mbox").write_text(MBOX_MESSAGE.format(sender="a@x", from_date="Tue Mar  5 08:15:02 2024", headers=""))
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("FIELD", """import: {maildir: tree}
    folders:
      - {name: INBOX, count: 2}
      - {name: Sent, source: {mbox: sent.mbox}}
      - {name: Extra, count: 1}"""))
    folders = {folder.name: folder for folder in load_scenario(tmp_path / "s.yaml").users[0].folders}
    assert {name: (f.source and (f.source.kind, Path(f.source.path).name), f.count) for name, f in folders.items()} == {
        "INBOX": (("maildir", "tree"), 2),  # the tree's mail and the generated
        "Sent": (("mbox", "sent.mbox"), 0),  # a source of its own wins
        "Extra": (None, 1),
        "Old": (("maildir", ".Old"), 0),
    }


def test_validate_counts_the_messages_read_from_mail_files():
    from click.testing import CliRunner

    from maillab.runner.entry.cli import app

    path = ROOT / "scenarios" / "imported-maildir.yaml"
    spec = load_scenario(path)
    from_files = sum(len(source_messages(f.source)) for user in spec.users for f in user.folders if f.source)
    assert from_files > 0
    shown = CliRunner().invoke(app, ["validate", str(path)]).output
    assert f"valid (2 users, {spec.message_count + from_files} messages ({from_files} from mail files), " in shown


def _hostile_tree(p: Path, name: str, make) -> None:
    maildir(p / "tree", {"cur/1.M1.host:2,S": MESSAGE})
    (p / "secret").write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    make(p / "tree" / name)


# Each is made at test time in tmp_path; `validate` must refuse it at once, naming the file.
@pytest.mark.timeout(10)  # a hang is the bug: a FIFO or /dev/zero opened
@pytest.mark.parametrize(("field", "make", "fragment"), [
    ("import: {maildir: tree}", lambda p: _hostile_tree(p, "cur/2.M2.host:2,S", lambda f: f.symlink_to("/dev/zero")),
     "tree/cur/2.M2.host:2,S: a symbolic link; only regular files are read"),
    ("import: {maildir: tree}", lambda p: _hostile_tree(p, "new/2.M2.host", lambda f: f.symlink_to(p / "secret")),
     "tree/new/2.M2.host: a symbolic link"),
    ("import: {maildir: tree}", lambda p: _hostile_tree(p, "cur/2.M2.host:2,S", os.mkfifo),
     "tree/cur/2.M2.host:2,S: a FIFO"),
    ("import: {maildir: tree}", lambda p: _hostile_tree(p, "dovecot-keywords", lambda f: f.symlink_to(p / "secret")),
     "tree/dovecot-keywords: a symbolic link"),
    ("import: {maildir: tree}", lambda p: _hostile_tree(p, ".Sub", lambda f: f.symlink_to(maildir(p / "other", {}))),
     "tree/.Sub: a symbolic link"),
    ("import: {maildir: tree}", lambda p: [maildir(p / "tree", {}), os.rmdir(p / "tree/cur"),
                                           (p / "tree/cur").symlink_to(p / "other/cur"), maildir(p / "other", {})],
     "tree/cur: not a directory (a symbolic link?)"),
    ("folders: [{name: L, source: {eml: mails}}]", lambda p: [(p / "mails").mkdir(), (p / "mails/a.eml").symlink_to("/dev/zero")],
     "mails/a.eml: a symbolic link"),
    ("folders: [{name: L, source: {eml: mails}}]", lambda p: [(p / "mails").mkdir(), os.mkfifo(p / "mails/a.eml")],
     "mails/a.eml: a FIFO"),
    ("folders: [{name: L, messages: [{raw_file: zero.eml}]}]", lambda p: (p / "zero.eml").symlink_to("/dev/zero"),
     "users[0].folders[0].messages[0].raw_file: zero.eml: not a regular file"),
    ("folders: [{name: L, messages: [{raw_file: fifo.eml}]}]", lambda p: os.mkfifo(p / "fifo.eml"),
     "users[0].folders[0].messages[0].raw_file: fifo.eml: not a regular file"),
    pytest.param("import: {maildir: tree}", lambda p: _hostile_tree(
        p, "cur/2.M2.host:2,S", lambda f: os.mknod(f, stat.S_IFCHR | 0o600, os.makedev(1, 5))),
        "tree/cur/2.M2.host:2,S: a device", marks=pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")),
], ids=["maildir-link-to-dev-zero", "maildir-link-outside", "maildir-fifo", "keywords-link", "tree-folder-link",
        "cur-link", "eml-link-to-dev-zero", "eml-fifo", "raw-file-dev-zero", "raw-file-fifo", "maildir-device"])
def test_validate_refuses_links_fifos_and_devices_naming_the_file(tmp_path, field, make, fragment):
    from click.testing import CliRunner

    from maillab.runner.entry.cli import app

    make(tmp_path)
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("FIELD", field))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    loc = "users[0].import.maildir: " if field.startswith("import") else "users[0].folders[0]."
    assert line.startswith(f"maillab: {tmp_path / 's.yaml'}:8: {loc}"), line
    assert fragment in line, line


@pytest.mark.timeout(10)
@pytest.mark.parametrize("make", [os.mkfifo, lambda f: f.symlink_to("/dev/zero")], ids=["fifo", "dev-zero"])
def test_a_script_step_must_be_a_regular_file(tmp_path, make):
    make(tmp_path / "migrate.sh")
    (tmp_path / "s.yaml").write_text(VALID.replace("  - method: doveadm_backup\n", "  - {method: script, path: migrate.sh}\n"))
    with pytest.raises(ScenarioError, match=r"steps\[1\]: script 'migrate.sh' is not a regular file"):
        load_scenario(tmp_path / "s.yaml")


def test_validate_names_the_files_read_from_outside_the_scenarios_folder(tmp_path):
    from click.testing import CliRunner

    from maillab.runner.entry.cli import app

    (tmp_path / "export").mkdir()
    (tmp_path / "export/sent.mbox").write_text(
        MBOX_MESSAGE.format(sender="a@x", from_date="Tue Mar  5 08:15:02 2024", headers=""))
    maildir(tmp_path / "export/tree", {"cur/1.M1.host:2,S": MESSAGE})
    maildir(tmp_path / "export/tree/.Old", {"cur/2.M2.host:2,S": MESSAGE})
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab/inside.eml").write_bytes(MESSAGE)
    (tmp_path / "export/one.eml").write_bytes(MESSAGE)
    (tmp_path / "lab/linked.eml").symlink_to(tmp_path / "export/one.eml")  # named: followed, and named
    (tmp_path / "lab/s.yaml").write_text(SCENARIO.replace("FIELD", """import: {maildir: ../export/tree}
    folders:
      - {name: Sent, source: {mbox: ../export/sent.mbox}}
      - {name: L, messages: [{raw_file: inside.eml}, {raw_file: linked.eml}]}"""))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "lab/s.yaml")])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if "outside" in line] == [
        f"reads files outside the scenario's folder: {tmp_path / 'export/one.eml'}",
        f"reads files outside the scenario's folder: {tmp_path / 'export/sent.mbox'}",
        f"reads files outside the scenario's folder: {tmp_path / 'export/tree'}"]  # its folders are in it
