"""Gmail as old (seed 002): labels chosen for seeding, what new must hold of Gmail's mail after
the seed's procedure (compare.from_gmail), and what the report counts of it: archived mail, the
labels' copies on new and their share of the quota. No Docker."""

import json
from dataclasses import replace

import pytest
from rich.console import Console

from maillab.runner.rehearsal.compare import archived_on_gmail, from_gmail, judge, stored_copies
from maillab.runner.rehearsal.messages import labelled, pop3_deleted
from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.rehearsal.state import Evidence, FolderState, HostState, UserState
from maillab.runner.reports.checks import archived_mail, copies_on_new, messages_per_user
from maillab.runner.reports.json_report import to_json, write_reports
from maillab.runner.reports.terminal import render
from maillab.runner.schema.scenario import Scenario
from maillab.runner.schema.vocabulary import GMAIL_ALL_MAIL, GMAIL_POP3_DELETED, GMAIL_UIDL

from .states import USER, inbox, message, state

GMAIL_USER = {"address": USER, "quota": 1_000, "folders": [
    {"name": "INBOX", "count": 40, "flags": {"\\Flagged": 0.3}, "labels": {"Work": 0.5, "Receipts": 0.25},
     "pop3_deleted": 0.2},
    {"name": "Work", "count": 3},
    {"name": "Receipts"},
]}


def gmail_scenario() -> Scenario:
    return Scenario.model_validate({
        "name": "gmail", "description": "labels", "hosts": {"old": {"suite": "bookworm", "server": "gmail"},
                                                           "new": {"suite": "bookworm", "special_folders": "gmail"}},
        "users": [GMAIL_USER], "steps": [{"method": "imapc", "gmail_migration": True}],
    })


def test_labels_and_pop3_deletions_are_chosen_by_the_seed_in_their_shares():
    scenario = gmail_scenario()
    user = scenario.users[0]
    chosen = labelled(scenario.seed, user, user.folders[0], 40)
    assert 10 <= len(chosen["Work"]) <= 30 and 2 <= len(chosen["Receipts"]) <= 20
    assert chosen["Work"] != chosen["Receipts"]  # each label its own draw
    assert labelled(scenario.seed, user, user.folders[0], 40) == chosen  # the same seed, the same labels
    assert labelled(scenario.seed + 1, user, user.folders[0], 40) != chosen
    deleted = pop3_deleted(scenario.seed, user, user.folders[0], 40)
    assert 2 <= len(deleted) <= 20 and deleted == pop3_deleted(scenario.seed, user, user.folders[0], 40)
    assert labelled(scenario.seed, user, user.folders[1], 3) == {} and pop3_deleted(scenario.seed, user, user.folders[1], 3) == []


def gm(uid: int, msgid: int, **changes):
    """A Gmail message: its X-GM-MSGID is its GUID in a snapshot, on Gmail and on new."""
    return message(uid, "abcdefgh"[msgid - 1], guid=str(msgid), **changes)


def gmail_state() -> HostState:
    """Gmail as the snapshot sees it: m1 in INBOX and Work, m2 in INBOX and deleted over POP3, m3
    in INBOX, m4 archived, m5 starred only; All Mail shows all five, POP3 lists All Mail but m2."""
    folders = {
        "INBOX": FolderState(name="INBOX", uidvalidity=1, uidnext=4, messages=[gm(1, 1), gm(2, 2), gm(3, 3)]),
        "Work": FolderState(name="Work", uidvalidity=2, uidnext=2, messages=[gm(1, 1)]),
        "[Gmail]": FolderState(name="[Gmail]", selectable=False),
        GMAIL_ALL_MAIL: FolderState(name=GMAIL_ALL_MAIL, uidvalidity=3, uidnext=6,
                                    messages=[gm(n, n, flags=("\\Flagged",) if n == 5 else ("\\Seen",))
                                              for n in range(1, 6)]),
        "[Gmail]/Starred": FolderState(name="[Gmail]/Starred", uidvalidity=4, uidnext=2,
                                       messages=[gm(1, 5, flags=("\\Flagged",))]),
    }
    uidls = [GMAIL_UIDL.format(n) for n in (1, 3, 4, 5)]
    return HostState(role="old", users={USER: UserState(address=USER, folders=folders, pop3_uidls=uidls)}, user_db={})


def migrated(gmail: HostState) -> HostState:
    """New after the seed's procedure: each folder as on Gmail, All Mail with the archived m4
    only, m2 marked deleted, POP3 = INBOX without m2, by Gmail's UIDLs."""
    user = gmail.users[USER]
    folders = {name: folder.model_copy(deep=True) for name, folder in user.folders.items()}
    folders["[Gmail]"] = FolderState(name="[Gmail]", uidvalidity=9, uidnext=1)  # a real, empty folder on new
    folders[GMAIL_ALL_MAIL].messages = [m for m in folders[GMAIL_ALL_MAIL].messages if m.guid == "4"]
    folders["INBOX"].messages[1] = replace(folders["INBOX"].messages[1], keywords=(GMAIL_POP3_DELETED, "Work"))
    new = UserState(address=USER, folders=folders, pop3_uidls=[GMAIL_UIDL.format(1), GMAIL_UIDL.format(3)])
    return HostState(role="new", users={USER: new}, user_db={})


def kinds(gmail: HostState, new: HostState) -> dict[str, int]:
    findings = judge(Evidence(baseline=gmail, old=gmail, new=new, source_server="gmail"), Scenario.model_validate({
        "name": "t", "description": "t", "hosts": {"old": {"suite": "bookworm"}, "new": {"suite": "bookworm"}},
        "users": [{"address": USER}], "steps": [{"method": "imapc"}]}).expect)
    found: dict[str, int] = {}
    for finding in findings:
        found[finding.kind] = found.get(finding.kind, 0) + 1
    return found


def test_what_gmail_holds_reaches_new_in_dovecots_shape():
    gmail = gmail_state()
    expected = from_gmail(gmail, migrated(gmail)).users[USER]
    assert [m.guid for m in expected.folders[GMAIL_ALL_MAIL].messages] == ["4"]  # archived only
    assert expected.folders["INBOX"].messages[1].keywords == ("$POP3Deleted", "Work")
    assert expected.pop3_uidls == ["GmailId1", "GmailId3"]  # INBOX, as Dovecot's POP3 lists it
    assert kinds(gmail, migrated(gmail)) == {}


@pytest.mark.parametrize("broken, found", [
    # without -O '-$GmailHaveLabels': every labelled message in All Mail too, a copy each
    (lambda new, gmail: new.users[USER].folders[GMAIL_ALL_MAIL].messages.__setitem__(
        slice(None), gmail.users[USER].folders[GMAIL_ALL_MAIL].messages), {"unexpected": 4}),
    # -x '\Flagged' with the labelled mail skipped: the starred-only message is nowhere on new
    (lambda new, gmail: new.users[USER].folders.pop("[Gmail]/Starred"), {"folder_missing": 1, "missing": 1}),
    # no pop3_deleted_flag: what Gmail's POP3 had deleted is listed again, and loses its mark
    (lambda new, gmail: (new.users[USER].folders["INBOX"].messages.__setitem__(
        1, gm(2, 2)), new.users[USER].pop3_uidls.insert(1, "GmailId2")), {"keywords_changed": 1, "uidl_changed": 1}),
    # Dovecot's own UIDLs instead of Gmail's: every POP3 client downloads again
    (lambda new, gmail: new.users[USER].pop3_uidls.__setitem__(slice(None), ["00000001", "00000003"]),
     {"uidl_changed": 1}),
    # an archived message lost
    (lambda new, gmail: new.users[USER].folders[GMAIL_ALL_MAIL].messages.clear(), {"missing": 1}),
])
def test_each_break_of_the_gmail_road_is_found(broken, found):
    gmail = gmail_state()
    new = migrated(gmail)
    broken(new, gmail)
    assert kinds(gmail, new) == found


def test_the_archived_mail_is_counted_on_gmail_and_on_new():
    gmail = gmail_state()
    assert archived_on_gmail(gmail, migrated(gmail)) == {USER: (1, 1)}
    lost = migrated(gmail)
    lost.users[USER].folders[GMAIL_ALL_MAIL].messages.clear()
    assert archived_on_gmail(gmail, lost) == {USER: (1, 0)}


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


def test_messages_that_differ_by_a_byte_are_no_copies():
    s = state()
    copied(s, content="f")  # same Message-ID, other bytes: another message
    assert stored_copies(s, {USER: 1_000}) == {}


def gmail_rehearsal() -> Rehearsal:
    scenario = gmail_scenario()
    gmail = gmail_state()
    new = migrated(gmail)
    copied(new, into="Work", uids=(3,))  # a labelled message: a second copy on new
    result = Rehearsal(scenario=scenario, lab_id="mltest", baseline=gmail, old=gmail, new=new)
    result.findings = judge(Evidence(baseline=gmail, old=gmail, new=new, source_server="gmail"), scenario.expect)
    return result


def test_the_report_shows_the_archived_mail_and_the_copies_quota_cost(tmp_path):
    result = gmail_rehearsal()
    write_reports(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["archived_on_gmail"] == {USER: {"archived": 1, "on_new": 1}}
    assert report["copies_on_new"][USER]["copies"] == 2 and report["copies_on_new"][USER]["quota"] == 1_000
    console = Console(record=True, width=200)
    render(result, console)
    text = console.export_text()
    assert "1 archived messages on Gmail (in All Mail only), 1 of them in new's [Gmail]/All Mail" in text
    assert "Messages new stores more than once" in text and "% of the quota" in text
    assert "archived messages" in (tmp_path / "report.html").read_text()


def test_without_copies_the_report_has_no_copies_table():
    result = gmail_rehearsal()
    result.new = state()
    console = Console(record=True, width=200)
    render(result, console)
    assert copies_on_new(result) == {} and "more than once" not in console.export_text()


def test_gmail_counts_each_message_once_whatever_folders_show_it():
    result = gmail_rehearsal()
    assert messages_per_user(result)[USER]["old"] == 5  # 10 places in 4 folders, 5 messages
    assert to_json(result)["messages"]["old"] == 5
    assert archived_mail(result) == {USER: {"archived": 1, "on_new": 1}}
    result.scenario.hosts["old"].server = "dovecot"  # a Dovecot host's folders each store their mail
    assert messages_per_user(result)[USER]["old"] == 10 and archived_mail(result) == {}
