"""dockerfiles/mailhost/courier-to-dovecot on real Courier Maildirs.

courier-fixtures/ holds two users' Maildirs copied with `docker cp` out of maillab/courier:bookworm
(Courier-IMAP 5.0.13, courier-pop 1.0.16) after seeding over IMAP and POP3 (docs/foreign-servers.md):
- alice: INBOX, INBOX.Archive, INBOX.Archive.2024 with flags and keywords, one POP3 session, so
  Courier's POP3 order (its filename order) differs from the IMAP UIDs;
- bob: the same, then a message appended after a POP3 session (UID 5, first in POP3 order), one
  delivered to new/ and one seen only over POP3 (in courierpop3dsizelist, not in
  courierimapuiddb), and keyword changes still in courierimapkeywords' update files.
The expected files are what Dovecot 2.3.19 (maillab/mailhost:bookworm) then showed exactly as
Courier did: UIDs, UIDVALIDITY, flags, keywords, POP3 UIDLs and their order, subscriptions.
Git keeps no empty directories: the copy gets cur/, new/ and tmp/ back.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "dockerfiles" / "mailhost" / "courier-to-dovecot"
FIXTURES = Path(__file__).parent / "courier-fixtures"
ALICE = "1796448244.M{}P134V0000000000000034I000000000019E{}.courier-old,S={}"
BOB = "1796448335.M{}P22{}V0000000000000034I000000000019E{}.courier-old,S={}"

ALICE_INBOX = f"""3 V796448244 N5
1 PUID3-1796448275 O3 :{ALICE.format(74359, "877_0", 148)}:2,S
2 PUID4-1796448275 O4 :{ALICE.format(79000, "878_1", 156)}:2,FSa
3 PUID1-1796448275 O1 :{ALICE.format(126860, "87D_2", 156)}:2,Rb
4 PUID2-1796448275 O2 :{ALICE.format(161050, "879_3", 149)}:2,
"""
ALICE_ARCHIVE = f"""3 V796448244 N3
1 :{ALICE.format(168212, "880_4", 149)}:2,DSab
2 :{ALICE.format(178263, "8A3_5", 152)}:2,Sc
"""
ALICE_ARCHIVE_2024 = f"""3 V796448244 N2
1 :{ALICE.format(187647, "01D_6", 148)}:2,FRSa
"""
BOB_INBOX = f"""3 V796448335 N8
1 PUID1-1796448335 O2 :{BOB.format(45150, 2, "3F1_0", 148)}:2,S
2 PUID2-1796448335 O3 :{BOB.format(47092, 2, "401_1", 156)}:2,FS
3 PUID3-1796448335 O4 :{BOB.format(52216, 2, "451_2", 156)}:2,Rab
4 PUID4-1796448335 O5 :{BOB.format(55487, 2, "411_3", 149)}:2,S
5 PUID5-1796448335 O1 :{BOB.format(395361, 4, "541_0", 153)}:2,S
6 PUID6-1796448335 O6 :1796449999.M1P1.courier-old,S=78:2,
7 PUID7-1796448335 O7 :1796450000.M2P2.courier-old,S=89:2,
"""
SUBSCRIPTIONS = "V\t2\n\nINBOX\nArchive\nArchive\t2024\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "vmail"
    shutil.copytree(FIXTURES, root)
    folders = [*root.glob("*/Maildir"), *(p.parent for p in root.rglob("maildirfolder"))]
    for folder in folders:
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(exist_ok=True)
    return root


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_dry_run_writes_and_renames_nothing(tree: Path) -> None:
    before = snapshot(tree)
    done = run("--recursive", tree)
    assert done.returncode == 0, done.stderr
    assert snapshot(tree) == before
    assert f"{tree}/alice/Maildir: would write dovecot-uidlist: 4 messages, UIDVALIDITY 796448244, next UID 5, " \
           "4 POP3 UIDLs, POP3 order" in done.stdout
    assert done.stdout.endswith("dry run: nothing written (--convert writes)\n")


def test_uids_uidls_their_order_keywords_and_subscriptions(tree: Path) -> None:
    done = run("--convert", "--recursive", tree)
    assert done.returncode == 0, done.stderr
    alice, bob = tree / "alice" / "Maildir", tree / "bob" / "Maildir"
    assert (alice / "dovecot-uidlist").read_text() == ALICE_INBOX
    assert (alice / ".Archive" / "dovecot-uidlist").read_text() == ALICE_ARCHIVE
    assert (alice / ".Archive.2024" / "dovecot-uidlist").read_text() == ALICE_ARCHIVE_2024
    assert (alice / "dovecot-keywords").read_text() == "0 Work\n1 $Forwarded\n"
    assert (alice / ".Archive" / "dovecot-keywords").read_text() == "0 Personal\n1 Work\n2 $Forwarded\n"
    assert (alice / ".Archive.2024" / "dovecot-keywords").read_text() == "0 Personal\n"
    # bob's newest keyword updates win over :list: Work taken off UID 2, Urgent put on UID 3
    assert (bob / "dovecot-uidlist").read_text() == BOB_INBOX
    assert (bob / "dovecot-keywords").read_text() == "0 $Forwarded\n1 Urgent\n"
    assert (alice / "subscriptions").read_text() == SUBSCRIPTIONS
    assert (bob / "subscriptions").read_text() == SUBSCRIPTIONS
    # the uidlist names every file as it now is in cur/
    for uidlist in tree.rglob("dovecot-uidlist"):
        names = {line.split(":", 1)[1] for line in uidlist.read_text().splitlines()[1:]}
        assert names == set(os.listdir(uidlist.parent / "cur"))


def test_new_files_take_the_folders_owner_and_mode(tree: Path) -> None:
    alice = tree / "alice" / "Maildir"
    os.chmod(alice, 0o700)
    assert run("--convert", alice).returncode == 0
    for name in ("dovecot-uidlist", "dovecot-keywords", "subscriptions"):
        info = (alice / name).stat()
        assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (0o600, alice.stat().st_uid, alice.stat().st_gid)


def test_a_home_holding_maildir_is_found(tree: Path) -> None:
    done = run("--convert", tree / "alice")
    assert done.returncode == 0, done.stderr
    assert (tree / "alice" / "Maildir" / "dovecot-uidlist").read_text() == ALICE_INBOX


def test_existing_dovecot_files_are_kept_unless_overwrite(tree: Path) -> None:
    alice = tree / "alice" / "Maildir"
    (alice / "dovecot-uidlist").write_text("3 V1 N1\n")
    (alice / "dovecot.index.log").write_text("stale")
    done = run("--convert", alice)
    assert done.returncode == 0
    assert f"{alice}/dovecot-uidlist: exists, not overwritten (--overwrite replaces it)" in done.stdout
    assert (alice / "dovecot-uidlist").read_text() == "3 V1 N1\n"
    assert run("--convert", "--overwrite", alice).returncode == 0
    assert (alice / "dovecot-uidlist").read_text() == ALICE_INBOX
    assert not (alice / "dovecot.index.log").exists()


def test_no_pop3_order_when_courier_lists_mail_in_uid_order(tree: Path) -> None:
    """Without UID 5 (which sorts first by name) Courier's order is the UIDs' order: no 'O'."""
    bob = tree / "bob" / "Maildir"
    (bob / "cur" / f"{BOB.format(395361, 4, '541_0', 153)}:2,S").unlink()
    done = run("--convert", bob)
    assert done.returncode == 0, done.stderr
    lines = (bob / "dovecot-uidlist").read_text().splitlines()
    assert lines[0] == "3 V796448335 N8"
    assert [line.split(" :")[0] for line in lines[1:]] == [
        "1 PUID1-1796448335", "2 PUID2-1796448335", "3 PUID3-1796448335", "4 PUID4-1796448335",
        "6 PUID6-1796448335", "7 PUID7-1796448335"]
    assert "1 courierimapuiddb entries without a file left out" in done.stdout


def test_keywords_beyond_26_are_reported(tree: Path) -> None:
    folder = tree / "alice" / "Maildir" / ".Archive.2024"
    words = [f"k{n}" for n in range(27)]
    base = ALICE.format(187647, "01D_6", 148)
    (folder / "courierimapkeywords" / ":list").write_text(
        "\n".join(words) + f"\n\n{base}:" + " ".join(map(str, range(27))) + "\n")
    for update in (folder / "courierimapkeywords").glob(".*"):
        update.unlink()
    done = run("--convert", folder.parent)
    assert done.returncode == 1
    assert f"{folder}: more than 26 keywords; not kept: k26" in done.stderr
    assert (folder / "dovecot-keywords").read_text() == "".join(f"{n} k{n}\n" for n in range(26))
    assert os.listdir(folder / "cur") == [f"{base}:2,FRS" + "abcdefghijklmnopqrstuvwxyz"]


def test_utf8_folder_names_become_modified_utf7(tree: Path) -> None:
    maildir = tree / "utf8" / "Maildir"
    done = run("--convert", maildir)
    assert done.returncode == 0, done.stderr
    assert f"{maildir}/.xäy.sub: renamed to .x&AOQ-y.sub" in done.stdout
    assert sorted(p.name for p in maildir.glob(".*")) == [".Entw&APw-rfe", ".a&-b", ".x&AOQ-y.sub"]
    assert (maildir / "subscriptions").read_text() == "V\t2\n\nEntw&APw-rfe\na&-b\nx&AOQ-y\tsub\n"
    drafts = maildir / ".Entw&APw-rfe"
    assert (drafts / "dovecot-uidlist").read_text() == (
        "3 V796448667 N2\n1 :1796448712.M418837P120V000000000000008EI000000000022801C_0.6cfe7c43d57a,S=152:2,Da\n")
    assert (drafts / "dovecot-keywords").read_text() == "0 Later\n"
    assert (maildir / ".a&-b" / "dovecot-uidlist").read_text() == "3 V796448679 N1\n"
    assert run("--convert", "--overwrite", maildir).returncode == 0  # a second run renames nothing
    assert sorted(p.name for p in maildir.glob(".*")) == [".Entw&APw-rfe", ".a&-b", ".x&AOQ-y.sub"]


def test_utf8_keeps_the_names(tree: Path) -> None:
    maildir = tree / "utf8" / "Maildir"
    assert run("--convert", "--utf8", maildir).returncode == 0
    assert sorted(p.name for p in maildir.glob(".*")) == [".Entwürfe", ".a&b", ".xäy.sub"]
    assert (maildir / "subscriptions").read_text() == "V\t2\n\nEntwürfe\na&b\nxäy\tsub\n"


def test_a_maildir_courier_never_served_is_left_alone(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    done = run("--convert", tmp_path / "Maildir")
    assert done.returncode == 0
    assert sorted(os.listdir(tmp_path / "Maildir")) == ["cur", "new", "tmp"]
    assert "no courierimapuiddb or courierpop3dsizelist, nothing to keep" in done.stdout


def test_a_path_without_a_maildir_needs_recursive(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 2
    assert "is not a Maildir and holds no Maildir/ (--recursive searches)" in done.stderr
