"""A Gmail-shaped source (seed 002): labels seeded as copies of the same message, and what the
report counts of them on new (copies, their bytes, their share of the quota). No Docker."""

import io
from dataclasses import replace
import json
import tarfile

from rich.console import Console

from maillab.runner.rehearsal.compare import judge, stored_copies
from maillab.runner.rehearsal.messages import labelled_messages
from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.rehearsal.seed import user_archive
from maillab.runner.rehearsal.state import Evidence
from maillab.runner.reports.checks import copies_on_new, messages_per_user
from maillab.runner.reports.json_report import to_json, write_reports
from maillab.runner.reports.terminal import render
from maillab.runner.schema.scenario import Scenario

from .states import USER, inbox, state

GMAIL_USER = {"address": "a@example.org", "quota": 1_000, "folders": [
    {"name": "INBOX", "count": 40, "flags": {"\\Flagged": 0.3}, "labels": {"Work": 0.5, "Receipts": 0.25}},
    {"name": "Work", "count": 3},
    {"name": "Receipts"},
]}


def gmail_scenario(new: dict | None = None) -> Scenario:
    return Scenario.model_validate({
        "name": "gmail", "description": "labels", "hosts": {"old": {"suite": "bullseye", "special_folders": "gmail"},
                                                           "new": new or {"suite": "bookworm"}},
        "users": [GMAIL_USER], "steps": [{"method": "doveadm_backup", "exclude": ["\\Flagged", "\\Important"]}],
    })


def test_a_label_puts_the_same_message_into_its_folder_after_the_folders_own():
    scenario = gmail_scenario()
    folders = labelled_messages(scenario.seed, scenario.users[0])
    inbox_raw = {m.raw: m for m in folders["INBOX"]}
    work_own, work_labelled = folders["Work"][:3], folders["Work"][3:]
    assert len(folders["INBOX"]) == 40 and all(m.raw not in inbox_raw for m in work_own)
    assert 10 <= len(work_labelled) <= 30 and 2 <= len(folders["Receipts"]) <= 20
    # the same message: bytes, date, flags and keywords
    assert all(inbox_raw[m.raw] == m for m in work_labelled + folders["Receipts"])
    assert labelled_messages(scenario.seed, scenario.users[0]) == folders  # the same seed, the same copies


def test_the_seeded_maildir_holds_each_labelled_message_in_each_of_its_folders():
    scenario = gmail_scenario()
    archive = user_archive(scenario.seed, scenario.users[0], home="example.org/a", maildir_parent="example.org/a")
    with tarfile.open(fileobj=io.BytesIO(archive.tar)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile() and "/cur/" in m.name}
    by_folder: dict[str, list[bytes]] = {}
    for name, content in files.items():
        folder = name.split("/Maildir/")[1].rsplit("cur/", 1)[0].rstrip("/") or "INBOX"
        by_folder.setdefault(folder, []).append(content)
    folders = labelled_messages(scenario.seed, scenario.users[0])
    assert {folder: len(contents) for folder, contents in by_folder.items()} == \
        {"INBOX": 40, ".Work": len(folders["Work"]), ".Receipts": len(folders["Receipts"])}
    assert set(by_folder[".Receipts"]) <= set(by_folder["INBOX"])
    assert archive.count == sum(len(messages) for messages in folders.values())


def copied(s, into="Archive", uids=(1, 2), content=None):
    """The INBOX messages of `uids` also stored in folder `into` (with other bytes: `content`)."""
    for uid in uids:
        original = inbox(s).messages[uid - 1]
        copy = replace(original, uid=10 + uid, sha256=f"{content}{uid}" * 32 if content else original.sha256)
        s.users[USER].folders[into].messages.append(copy)


def test_copies_are_counted_by_content_with_their_bytes_and_share_of_the_quota():
    s = state()
    copied(s)
    found = stored_copies(s, {USER: 1_000})[USER]
    # INBOX holds uids 1-3 (101, 102, 103 bytes), Archive 1-2 (101, 102) and the copies
    assert (found.messages, found.copies, found.copy_bytes) == (2, 2, 101 + 102)
    assert found.stored_bytes == 101 + 102 + 103 + 101 + 102 + 101 + 102
    assert found.quota_share == 203 / 1_000
    assert found.folders == {"Archive": 2, "INBOX": 2}


def test_a_message_in_three_folders_is_two_copies():
    s = state()
    copied(s, uids=(1,))
    s.users[USER].folders["Lists"].messages.append(inbox(s).messages[0])
    found = stored_copies(s, {})[USER]
    assert (found.messages, found.copies, found.copy_bytes, found.quota_share) == (1, 2, 202, None)


def test_messages_that_differ_by_a_byte_are_no_copies_and_views_store_nothing():
    s = state()
    copied(s, content="f")  # same Message-ID, other bytes: another message
    assert stored_copies(s, {USER: 1_000}) == {}
    copied(s, into="Lists")
    assert stored_copies(s, {USER: 1_000}, views=frozenset({"Lists"})) == {}
    assert stored_copies(s, {USER: 1_000})[USER].copies == 2


def rehearsal_with_copies(new_host: dict | None = None) -> Rehearsal:
    scenario = gmail_scenario(new_host)
    baseline, new = state(), state()
    copied(new)
    result = Rehearsal(scenario=scenario, lab_id="mltest", baseline=baseline, old=baseline, new=new)
    result.findings = judge(Evidence(baseline=baseline, old=baseline, new=new), scenario.expect)
    return result


def test_the_report_shows_the_copies_on_new_and_their_share_of_the_quota(tmp_path):
    result = rehearsal_with_copies()
    write_reports(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["copies_on_new"] == {USER: {"messages": 2, "copies": 2, "copy_bytes": 203, "stored_bytes": 712,
                                              "quota": 1_000, "quota_share": 0.203,
                                              "folders": {"Archive": 2, "INBOX": 2}}}
    console = Console(record=True, width=200)
    render(result, console)
    text = console.export_text()
    assert "Messages new stores more than once" in text and "20% of the quota" in text


def test_without_copies_the_report_has_no_copies_table():
    result = rehearsal_with_copies()
    result.new = state()
    console = Console(record=True, width=200)
    render(result, console)
    assert copies_on_new(result) == {} and "more than once" not in console.export_text()


def test_virtual_folders_of_a_gmail_new_are_not_counted():
    result = rehearsal_with_copies()
    result.new.users[USER].folders["[Gmail]/All Mail"] = result.new.users[USER].folders["INBOX"]
    assert copies_on_new(result)[USER]["copies"] == 5  # All Mail is a real folder on a plain new
    result.scenario.hosts["new"].special_folders = "gmail"
    assert copies_on_new(result)[USER]["copies"] == 2


def test_the_views_of_a_gmail_old_are_not_counted_as_its_mail():
    result = rehearsal_with_copies()
    result.baseline.users[USER].folders["[Gmail]/All Mail"] = inbox(result.baseline)
    assert messages_per_user(result)[USER] == {"old": 5, "new": 7}
    assert to_json(result)["messages"] == {"old": 5, "new": 7}
    result.scenario.hosts["old"].special_folders = "dovecot"  # a real folder of that name is mail
    assert messages_per_user(result)[USER]["old"] == 8
