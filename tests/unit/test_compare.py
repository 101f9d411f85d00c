"""The comparison as a table: each case breaks a copy of a known state in one way and names
the finding classes that must come out (and nothing else)."""

import datetime as dt

import pytest

from runner.compare import FINDING_PROPERTY, compare
from runner.scenario import Expectations
from runner.snapshot import canonical_name
from runner.state import Arrival, FolderState, HostState, MessageState, SieveState, UserState

USER = "a@example.org"
DATE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def message(uid: int, content: str, **changes) -> MessageState:
    fields = dict(uid=uid, sha256=content * 8, flags=["\\Seen"], keywords=["Work"], internaldate=DATE,
                  size=100 + uid, message_id=f"<{content}@x>", guid=f"{content}.M{uid}P1.host")
    return MessageState(**(fields | changes))


def state() -> HostState:
    inbox = FolderState(name="INBOX", uidvalidity=100, uidnext=4,
                        messages=[message(1, "a"), message(2, "b"), message(3, "c")])
    archive = FolderState(name="Archive", uidvalidity=101, uidnext=3, messages=[message(1, "d"), message(2, "e")])
    parent = FolderState(name="Lists", selectable=False)
    user = UserState(
        address=USER,
        folders={"INBOX": inbox, "Archive": archive, "Lists": parent},
        subscriptions=["Archive", "INBOX"],
        sieve=SieveState(scripts={"main": "1" * 64, "old": "2" * 64}, active="main"),
        pop3_uidls=["00000001", "00000002", "00000003"],
    )
    db = {"mailserver.virtual_users": {"1": {"id": "1", "domain_id": "1", "email": USER,
                                             "password": "{SHA512-CRYPT}x", "quota": "0"}}}
    return HostState(role="old", users={USER: user}, user_db=db)


def inbox(s): return s.users[USER].folders["INBOX"]
def archive(s): return s.users[USER].folders["Archive"]
def user(s): return s.users[USER]


def renumber(s):  # a client-side copy: new UIDVALIDITY, new UIDs
    for folder in (inbox(s), archive(s)):
        folder.uidvalidity += 1000
        for n, m in enumerate(folder.messages):
            m.uid = 10 + n


def new_uid(s):
    archive(s).messages[1].uid = 7
    archive(s).uidnext = 8


CASES = [
    ("identical", lambda s: None, set()),
    ("message expunged", lambda s: inbox(s).messages.pop(1), {"missing"}),
    ("message appended", lambda s: inbox(s).messages.append(message(4, "z")), {"unexpected"}),
    ("message duplicated", lambda s: inbox(s).messages.append(message(4, "a")), {"duplicate"}),
    ("content altered", lambda s: setattr(inbox(s).messages[0], "sha256", "f" * 8), {"content_changed"}),
    ("content altered on copy", lambda s: (renumber(s), setattr(inbox(s).messages[0], "sha256", "f" * 8)),
     {"uidvalidity_changed", "content_changed"}),
    ("flag removed", lambda s: setattr(inbox(s).messages[0], "flags", []), {"flags_changed"}),
    ("keyword lost", lambda s: setattr(inbox(s).messages[2], "keywords", []), {"keywords_changed"}),
    ("date reset", lambda s: setattr(inbox(s).messages[0], "internaldate", DATE + dt.timedelta(hours=1)),
     {"date_changed"}),
    ("uid renumbered", new_uid, {"uid_changed"}),
    ("guid changed", lambda s: setattr(inbox(s).messages[0], "guid", "other"), {"guid_changed"}),
    ("uidnext lowered", lambda s: setattr(inbox(s), "uidnext", 2), {"uidnext_lowered"}),
    ("uidvalidity changed", renumber, {"uidvalidity_changed"}),
    ("folder dropped", lambda s: user(s).folders.pop("Archive"), {"folder_missing"}),
    ("folder added", lambda s: user(s).folders.update(X=FolderState(name="X", uidvalidity=5, uidnext=1)),
     {"folder_unexpected"}),
    ("noselect parent not listed", lambda s: user(s).folders.pop("Lists"), set()),
    ("unsubscribed", lambda s: user(s).subscriptions.remove("Archive"), {"subscription_lost"}),
    ("subscribed", lambda s: user(s).subscriptions.append("Junk"), {"subscription_added"}),
    ("sieve script lost", lambda s: user(s).sieve.scripts.pop("old"), {"sieve_lost"}),
    ("sieve script edited", lambda s: user(s).sieve.scripts.update(old="3" * 64), {"sieve_changed"}),
    ("sieve script added", lambda s: user(s).sieve.scripts.update(new="4" * 64), {"sieve_unexpected"}),
    ("sieve deactivated", lambda s: setattr(user(s).sieve, "active", None), {"sieve_active_changed"}),
    ("uidls changed", lambda s: setattr(user(s), "pop3_uidls", ["x", "y", "z"]), {"uidl_changed"}),
    ("uidls reordered", lambda s: user(s).pop3_uidls.reverse(), {"uidl_changed"}),
    ("db row changed", lambda s: s.user_db["mailserver.virtual_users"]["1"].__setitem__("quota", "5"), {"db_row_changed"}),
    ("db row missing", lambda s: s.user_db["mailserver.virtual_users"].clear(), {"db_row_missing"}),
    ("db row added", lambda s: s.user_db["mailserver.virtual_users"].update(
        {"2": {"id": "2", "domain_id": "1", "email": "b@x.org", "password": "", "quota": "0"}}),
     {"db_row_unexpected"}),
]


@pytest.mark.parametrize(("case", "breakage", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_breakage_yields_exactly_its_classes(case, breakage, expected):
    old, new = state(), state()
    breakage(new)
    findings = compare(old, new, Expectations())
    assert {f.kind for f in findings} == expected
    assert all(f.user == USER for f in findings if not f.kind.startswith("db_"))
    assert not any(f.tolerated for f in findings)


def test_every_finding_class_has_a_case():
    covered = set().union(*(expected for _, _, expected in CASES)) | {"delivery_failed"}
    assert covered == set(FINDING_PROPERTY)


def test_findings_name_user_mailbox_and_uid():
    old, new = state(), state()
    inbox(new).messages.pop(1)
    [finding] = compare(old, new, Expectations())
    assert (finding.kind, finding.user, finding.mailbox, finding.uid) == ("missing", USER, "INBOX", 2)


def test_declared_losses_are_tolerated_and_others_are_not():
    old, new = state(), state()
    renumber(new)
    user(new).subscriptions.clear()
    findings = compare(old, new, Expectations(preserved=["messages", "subscriptions"]))
    assert {f.kind: f.tolerated for f in findings} == {"uidvalidity_changed": True, "subscription_lost": False}


def test_an_arrival_is_expected_mail_and_a_missing_one_is_a_finding():
    old, new = state(), state()
    inbox(new).messages.append(message(4, "s", message_id="<smoke@x>"))
    user(new).pop3_uidls.append("00000004")
    assert compare(old, new, Expectations(), [Arrival(USER, "<smoke@x>")]) == []
    findings = compare(old, state(), Expectations(), [Arrival(USER, "<smoke@x>")])
    assert [(f.kind, f.detail) for f in findings] == [("delivery_failed", "<smoke@x> was sent but never arrived")]


def test_a_declared_column_change_must_hold_exactly():
    """Roundcube's users.mail_host after `UPDATE users SET mail_host=...`: the new value is
    required, old's value is a finding, other columns still must match."""
    def with_host(mail_host, language="de_DE"):
        snapshot = state()
        snapshot.user_db["roundcube.users"] = {"1": {"user_id": "1", "username": USER, "mail_host": mail_host,
                                                     "language": language}}
        return snapshot
    expect = Expectations(db_changes=[{"table": "roundcube.users", "column": "mail_host", "value": "new"}])
    assert compare(with_host("old"), with_host("new"), expect) == []
    [forgotten] = compare(with_host("old"), with_host("old"), expect)
    assert forgotten.kind == "db_row_changed" and "mail_host is 'old', expected 'new'" in forgotten.detail
    [other] = compare(with_host("old"), with_host("new", language="en_US"), expect)
    assert "language is 'en_US', expected 'de_DE'" in other.detail


@pytest.mark.parametrize(("name", "prefix", "separator", "canonical"), [
    ("INBOX", "INBOX.", ".", "INBOX"),
    ("INBOX.Archive.2023", "INBOX.", ".", "Archive/2023"),
    ("Archive/2023", "", "/", "Archive/2023"),
    ("inbox", "", "/", "INBOX"),
])
def test_folder_names_are_compared_as_the_scenario_writes_them(name, prefix, separator, canonical):
    """A Courier-style server's INBOX.Archive.2023 is the folder Archive/2023 on a default one."""
    assert canonical_name(name, prefix, separator) == canonical
