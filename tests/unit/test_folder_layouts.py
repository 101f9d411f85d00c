"""Folder names on disk, per layout and escape character: what Dovecot itself did.

Each row was measured on lab hosts (bullseye: Dovecot 2.3.13, trixie: 2.4.1) by creating the
folder with `doveadm mailbox create` under that configuration and reading the directory name
it made under the Maildir root (or Dovecot's refusal). 2.3's listescape plugin and 2.4's
mailbox_list_storage_escape_char made the same names; so did both series' layouts. Seeding
writes these directories itself (runner/rehearsal/seed.py), and the loader refuses what Dovecot refused.
"""

import io
import tarfile

import pytest

from maillab.runner.rehearsal.seed import user_archive
from maillab.runner.schema.scenario import FolderSpec, HostSpec, UserSpec

NAMES = ("Mr. Smith", "v1.2", "Projects/v2.0", "Ünïcode. names", "Archive/2023", "Entwürfe", ".hidden",
         "trailing.", "cur", "Projects/new", "a&b", "x^y", "Ünï.x/ü.y")
DOT = "Character not allowed in mailbox name"  # Dovecot's answer, in both series
RESERVED = "Contains reserved name"
MAILDIRPLUSPLUS = (DOT, DOT, DOT, DOT, ".Archive.2023", ".Entw&APw-rfe", DOT, DOT, ".cur", ".Projects.new", ".a&-b",
                   ".x^y", DOT)
FS = ("Mr. Smith", "v1.2", "Projects/v2.0", "&ANw-n&AO8-code. names", "Archive/2023", "Entw&APw-rfe", ".hidden",
      "trailing.", RESERVED, RESERVED, "a&-b", "x^y", "&ANw-n&AO8-.x/&APw-.y")
BACKSLASH = (".Mr\\2e Smith", ".v1\\2e2", ".Projects.v2\\2e0", ".&ANw-n&AO8-code\\2e names", ".Archive.2023",
             ".Entw&APw-rfe", ".\\2ehidden", ".trailing\\2e", ".cur", ".Projects.new", ".a&-b", ".x^y",
             ".&ANw-n&AO8-\\2ex.&APw-\\2ey")
CARET = (".Mr^2e Smith", ".v1^2e2", ".Projects.v2^2e0", ".&ANw-n&AO8-code^2e names", ".Archive.2023",
         ".Entw&APw-rfe", ".^2ehidden", ".trailing^2e", ".cur", ".Projects.new", ".a&-b", ".x^5ey",
         ".&ANw-n&AO8-^2ex.&APw-^2ey")
# (host settings, what Dovecot made of each of NAMES)
MEASURED = [
    ({"suite": "bullseye"}, MAILDIRPLUSPLUS),
    ({"suite": "trixie"}, MAILDIRPLUSPLUS),
    ({"suite": "bullseye", "layout": "fs"}, FS),
    ({"suite": "trixie", "layout": "fs"}, FS),
    ({"suite": "bullseye", "listescape_char": "\\"}, BACKSLASH),
    ({"suite": "trixie", "mailbox_list_storage_escape_char": "\\"}, BACKSLASH),
    ({"suite": "bullseye", "listescape_char": "^"}, CARET),
    ({"suite": "trixie", "mailbox_list_storage_escape_char": "^"}, CARET),
    ({"suite": "bullseye", "layout": "fs", "listescape_char": "\\"}, FS),
    ({"suite": "trixie", "layout": "fs", "mailbox_list_storage_escape_char": "\\"}, FS),
    # the visible escape character changes only what clients see of broken names
    ({"suite": "trixie", "mailbox_list_visible_escape_char": "^"}, MAILDIRPLUSPLUS),
]
CASES = [(settings, name, found) for settings, row in MEASURED for name, found in zip(NAMES, row, strict=True)]


@pytest.mark.parametrize(("settings", "name", "found"), CASES,
                         ids=[f"{'-'.join(map(str, s.values()))}:{n}" for s, n, _ in CASES])
def test_a_folder_lies_where_dovecot_put_it_or_is_refused_as_dovecot_refused_it(settings, name, found):
    host = HostSpec(**settings)
    if found in (DOT, RESERVED):
        assert found in (host.folder_problem(name) or ""), f"Dovecot refused {name!r}: {found}"
    else:
        assert host.folder_problem(name) is None
        assert host.folder_directory(name) == found


def test_an_mdbox_host_is_seeded_through_maildirplusplus_with_its_escape_character():
    host = HostSpec(suite="bullseye", mail_format="mdbox", listescape_char="\\")
    assert host.folder_directory("Mr. Smith") == ".Mr\\2e Smith"
    assert "the lab seeds mdbox" in HostSpec(suite="bullseye", mail_format="mdbox").folder_problem("Mr. Smith")


def test_a_courier_namespace_holds_no_dot_in_a_level_even_with_an_escape_character():
    host = HostSpec(suite="bullseye", namespace="courier", listescape_char="\\")
    assert "courier" in host.folder_problem("Mr. Smith")
    assert host.folder_problem("Archive/2023") is None


def test_seeding_writes_each_folder_where_the_hosts_dovecot_reads_it():
    user = UserSpec(address="a@example.org", folders=[FolderSpec(name="Projects/v2.0", count=2)])
    host = HostSpec(suite="bullseye", listescape_char="\\")
    archive = user_archive(1, user, home="d/a", maildir_parent="d/a", folder_directory=host.folder_directory)
    names = tarfile.open(fileobj=io.BytesIO(archive.tar)).getnames()
    assert sum(name.startswith("d/a/Maildir/.Projects.v2\\2e0/cur/") for name in names) == 2


def test_seeding_writes_the_maildir_where_the_admins_userdb_puts_it():
    """ViMbAdmin's mail location maildir:/var/vmail/d/a/mail:LAYOUT=fs: the Maildir is `mail`
    under the home (seed.mail_places asks old's Dovecot), its folders as directories."""
    user = UserSpec(address="a@example.org", folders=[FolderSpec(name="Archive/2024", count=2)])
    host = HostSpec(suite="bookworm", layout="fs")
    archive = user_archive(1, user, home="d/a", maildir_parent="d/a", maildir_name="mail",
                           folder_directory=host.folder_directory)
    names = tarfile.open(fileobj=io.BytesIO(archive.tar)).getnames()
    assert sum(name.startswith("d/a/mail/Archive/2024/cur/") for name in names) == 2
    assert not any("Maildir" in name for name in names)
