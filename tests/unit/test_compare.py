"""The comparison as a table: each case breaks one snapshot of a known state in one way
(new at the end, old at the end, or new after the first run of the steps) and names the
finding classes that must come out (and nothing else)."""

import datetime as dt
from collections import Counter
from dataclasses import replace

import pytest

from maillab.lab.own_config import ConfigProblem
from maillab.runner.methods.context import Arrival, FlagChange
from maillab.runner.rehearsal.compare import compare, judge
from maillab.runner.rehearsal.ledger import Attempt, Sent, account
from maillab.runner.rehearsal.snapshot import _subscribed, canonical_name
from maillab.runner.rehearsal.state import Evidence, FolderState, TlsCheck, UserState
from maillab.runner.schema.findings import FINDING_CLASSES
from maillab.runner.schema.scenario import Expectations
from maillab.runner.schema.vocabulary import PROPERTIES

from .states import DATE, USER, archive, inbox, message, state, user

TRAFFIC = "<traffic.1.lab@traffic.lab>"


def renumber(s):  # a client-side copy: new UIDVALIDITY, new UIDs
    for folder in (inbox(s), archive(s)):
        folder.uidvalidity += 1000
        for n, m in enumerate(folder.messages):
            m.uid = 10 + n


def new_uid(s):
    archive(s).messages[1].uid = 7
    archive(s).uidnext = 8


def imap_down(s):
    s.unanswered["IMAP"] = "[Errno 111] Connection refused"
    for u in s.users.values():
        u.folders, u.subscriptions = {}, []


def login_refused(s):
    s.users[USER] = UserState(address=USER, login_error="b'[AUTHENTICATIONFAILED] Authentication failed.'")


# (case, which snapshot the breakage hits, the breakage, the classes that must come out)
CASES = [
    ("identical", "new", lambda s: None, set()),
    ("message expunged", "new", lambda s: inbox(s).messages.pop(1), {"missing"}),
    ("message appended", "new", lambda s: inbox(s).messages.append(message(4, "z")), {"unexpected"}),
    ("message duplicated", "new", lambda s: inbox(s).messages.append(message(4, "a")), {"duplicate"}),
    ("content altered", "new", lambda s: setattr(inbox(s).messages[0], "sha256", "f" * 8), {"content_changed"}),
    ("content altered on copy", "new", lambda s: (renumber(s), setattr(inbox(s).messages[0], "sha256", "f" * 8)),
     {"uidvalidity_changed", "content_changed"}),
    ("flag removed", "new", lambda s: setattr(inbox(s).messages[0], "flags", ()), {"flags_changed"}),
    ("keyword lost", "new", lambda s: setattr(inbox(s).messages[2], "keywords", ()), {"keywords_changed"}),
    ("date reset", "new", lambda s: setattr(inbox(s).messages[0], "internaldate", DATE + dt.timedelta(hours=1)),
     {"date_changed"}),
    ("uid renumbered", "new", new_uid, {"uid_changed"}),
    ("guid changed", "new", lambda s: setattr(inbox(s).messages[0], "guid", "other"), {"guid_changed"}),
    ("uidnext lowered", "new", lambda s: setattr(inbox(s), "uidnext", 2), {"uidnext_lowered"}),
    ("uidvalidity changed", "new", renumber, {"uidvalidity_changed"}),
    ("folder dropped", "new", lambda s: user(s).folders.pop("Archive"), {"folder_missing"}),
    ("folder added", "new", lambda s: user(s).folders.update(X=FolderState(name="X", uidvalidity=5, uidnext=1)),
     {"folder_unexpected"}),
    ("noselect parent not listed", "new", lambda s: user(s).folders.pop("Lists"), set()),
    ("unsubscribed", "new", lambda s: user(s).subscriptions.remove("Archive"), {"subscription_lost"}),
    ("subscribed", "new", lambda s: user(s).subscriptions.append("Junk"), {"subscription_added"}),
    ("sieve script lost", "new", lambda s: user(s).sieve.scripts.pop("old"), {"sieve_lost"}),
    ("sieve script edited", "new", lambda s: user(s).sieve.scripts.update(old="3" * 64), {"sieve_changed"}),
    ("sieve script added", "new", lambda s: user(s).sieve.scripts.update(new="4" * 64), {"sieve_unexpected"}),
    ("sieve deactivated", "new", lambda s: setattr(user(s).sieve, "active", None), {"sieve_active_changed"}),
    ("uidls changed", "new", lambda s: setattr(user(s), "pop3_uidls", ["x", "y", "z"]), {"uidl_changed"}),
    ("uidls reordered", "new", lambda s: user(s).pop3_uidls.reverse(), {"uidl_changed"}),
    ("db row changed", "new", lambda s: s.user_db["mailserver.virtual_users"]["1"].__setitem__("quota", "5"), {"db_row_changed"}),
    ("db row missing", "new", lambda s: s.user_db["mailserver.virtual_users"].clear(), {"db_row_missing"}),
    ("db row added", "new", lambda s: s.user_db["mailserver.virtual_users"].update(
        {"2": {"id": "2", "domain_id": "1", "email": "b@x.org", "password": "", "quota": "0"}}),
     {"db_row_unexpected"}),
    ("IMAP down on new", "new", imap_down, {"service_down"}),
    ("a user cannot log in on new", "new", login_refused, {"login_failed"}),
    ("old emptied by a wrong-direction backup", "old", lambda s: inbox(s).messages.clear(), {"source_changed"}),
    ("old's flags changed", "old", lambda s: setattr(inbox(s).messages[0], "flags", ()), {"source_changed"}),
    ("old's Dovecot left stopped", "old", imap_down, set()),  # old may be retired; its data is what counts
    ("first run incomplete, the rerun finished it", "converged", lambda s: archive(s).messages.pop(),
     {"not_idempotent"}),
]


def evidence(broken: str, breakage, **more) -> Evidence:
    """All four snapshots alike but the broken one; damage to new was there after the first
    run too (else the rerun made it, which is the 'converged' case)."""
    snapshots = {"baseline": state(), "old": state(), "new": state("new"), "converged": state("new")}
    for name in {"new": ("new", "converged")}.get(broken, (broken,)):
        breakage(snapshots[name])
    return Evidence(**snapshots, **more)


@pytest.mark.parametrize(("case", "broken", "breakage", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_breakage_yields_exactly_its_classes(case, broken, breakage, expected):
    findings = judge(evidence(broken, breakage), Expectations())
    assert {f.kind for f in findings} == expected
    assert all(f.user in (USER, "-") for f in findings if not f.kind.startswith("db_"))
    assert not any(f.tolerated for f in findings)


# A live cutover: one message the internet sent, what became of it (the sender's attempt, copies
# on new, where old holds it), and the finding classes that must come out.
LEDGER_CASES = [
    ("delivered to new", Attempt(TRAFFIC, 1.0, "sent", "new"), 1, {}, set()),
    ("delivered to old before the last sync", Attempt(TRAFFIC, 1.0, "sent", "old"), 1, {TRAFFIC: "INBOX"}, set()),
    ("delivered to old after the last sync", Attempt(TRAFFIC, 9.0, "sent", "old"), 0, {TRAFFIC: "INBOX"},
     {"stranded"}),
    ("bounced by new", Attempt(TRAFFIC, 1.0, "bounced", "new", "550 5.1.1 User unknown"), 0, {}, {"bounced"}),
    ("twice on new", Attempt(TRAFFIC, 1.0, "sent", "old"), 2, {}, {"duplicate"}),
    ("accepted and gone", Attempt(TRAFFIC, 1.0, "sent", "new"), 0, {}, {"missing"}),
]


@pytest.mark.parametrize(("case", "attempt", "copies", "on_old", "expected"), LEDGER_CASES,
                         ids=[c[0] for c in LEDGER_CASES])
def test_each_fate_of_the_internets_mail_yields_exactly_its_classes(case, attempt, copies, on_old, expected):
    sent = [Sent(TRAFFIC, USER, 0.5)]
    ledger = account(sent, [attempt], {}, Counter({TRAFFIC: copies}), on_old, ended_at=20.0)
    findings = judge(evidence("new", lambda s: None, ledger=ledger, traffic=frozenset({TRAFFIC})), Expectations())
    assert {f.kind for f in findings} == expected
    assert all(TRAFFIC in f.detail and f.user == USER for f in findings)


def test_a_client_that_cannot_verify_new_by_the_name_it_uses_is_a_finding():
    checks = (TlsCheck("mail.example.org", "IMAPS", True, "Verification: OK"),
              TlsCheck("mail.example.org", "SMTP", False, "Verification error: hostname mismatch"))
    [finding] = judge(evidence("new", lambda s: None, tls=checks), Expectations())
    assert (finding.kind, finding.mailbox, finding.detail) == ("tls_failed", "SMTP mail.example.org",
                                                              "Verification error: hostname mismatch")


def test_each_refusal_of_news_own_configuration_is_a_finding_naming_file_and_line():
    refused = (ConfigProblem("dovecot", "dovecot/dovecot.conf", 7, "Unknown setting: mail_locaton"),
               ConfigProblem("postfix", "postfix/main.cf", 3, "missing '=' after attribute name"))
    findings = judge(evidence("new", lambda s: None, config_refused=refused), Expectations())
    assert [(f.kind, f.property, f.mailbox, f.detail) for f in findings] == [
        ("config_failed", "config", "new dovecot/dovecot.conf:7", "dovecot: Unknown setting: mail_locaton"),
        ("config_failed", "config", "new postfix/main.cf:3", "postfix: missing '=' after attribute name")]


def test_in_place_the_host_after_is_held_to_itself_before_and_no_source_is_judged():
    """An upgrade in place: `new` is old after it (role old), and there is no old beside it."""
    upgraded = state()
    upgraded.users[USER].folders["INBOX"].messages.pop()
    refused = (ConfigProblem("dovecot", "dovecot/dovecot.conf", 5, "The first setting must be dovecot_config_version"),)
    findings = judge(Evidence(baseline=state(), old=None, new=upgraded, config_refused=refused), Expectations())
    assert sorted((f.kind, f.mailbox) for f in findings) == [("config_failed", "old dovecot/dovecot.conf:5"),
                                                             ("missing", "INBOX")]


def test_the_internets_mail_is_judged_by_the_ledger_not_by_the_comparison():
    """Traffic lands on old (before the last sync) and on new: neither is a message of the
    baseline, neither counts as unexpected, damage to old or a POP3 UIDL change."""
    def delivered(s):
        inbox(s).messages.append(message(4, "traffic"))
        user(s).pop3_uidls.append("traffic-uidl")
    grown = evidence("old", delivered)
    delivered(grown.new)
    ledger = account([Sent("<traffic@x>", USER, 0.5)], [Attempt("<traffic@x>", 1.0, "sent", "old")], {},
                     Counter({"<traffic@x>": 1}), {"<traffic@x>": "INBOX"}, ended_at=5.0)
    assert judge(replace(grown, ledger=ledger, traffic=frozenset({"<traffic@x>"})), Expectations()) == []


def test_every_finding_class_has_a_case():
    covered = set().union(*(expected for *_, expected in CASES + LEDGER_CASES)) | {"delivery_failed", "tls_failed",
                                                                                  "config_failed"}
    assert covered == set(FINDING_CLASSES)


def test_every_property_has_a_finding_class_and_every_class_a_property():
    assert set(FINDING_CLASSES.values()) == set(PROPERTIES)


def test_source_damage_is_one_finding_per_folder_saying_what_changed():
    [damage] = judge(evidence("old", lambda s: inbox(s).messages.clear()), Expectations())
    assert (damage.kind, damage.user, damage.mailbox) == ("source_changed", USER, "INBOX")
    assert damage.detail.startswith("on old: 3 missing")


def arrived(content, message_id=None):
    """A breakage: one message more in INBOX (mail that arrived), with its POP3 UIDL."""
    def append(s):
        inbox(s).messages.append(message(4, content, **({"message_id": message_id} if message_id else {})))
        user(s).pop3_uidls.append("00000004")
    return append


def flags_changed(s):
    inbox(s).messages[0].flags, inbox(s).messages[0].keywords = ("\\Flagged",), ("$Important", "Work")


FLAGGED = FlagChange(USER, "INBOX", (1,), ("\\Flagged", "$Important"), ("\\Seen",))
NEW_MAIL = (Arrival(USER, "<n@x>"),)


# The source check: old at the end against old as the steps were meant to leave it, its
# baseline with the declared changes. (case, breakage of old at the end, of new at the end,
# the evidence's declarations, the classes that must come out)
SOURCE_CASES = [
    ("mail old's Postfix took in", arrived("z"), arrived("z"),
     dict(old_changes_declared=True, old_mail=frozenset({"<z@x>"})), set()),
    ("old's mail never reached new", arrived("z"), lambda s: None,
     dict(old_changes_declared=True, old_mail=frozenset({"<z@x>"})), {"missing", "uidl_changed"}),
    ("a message written into old, not through its Postfix", arrived("z"), arrived("z"),
     dict(old_changes_declared=True), {"source_changed"}),
    ("flags a step changed on old", flags_changed, flags_changed, dict(old_changes_declared=True, old_flags=(FLAGGED,)),
     set()),
    ("flags changed on old beyond the step's", lambda s: (flags_changed(s), setattr(inbox(s).messages[1], "flags", ())),
     lambda s: None, dict(old_flags=(FLAGGED,)), {"source_changed"}),
    ("a declared flag change that did not happen", lambda s: None, lambda s: None, dict(old_flags=(FLAGGED,)),
     {"source_changed"}),
    # a two-way sync without -1: new's arrivals written into old (issue 17)
    ("new's arrivals copied to old", arrived("n"), arrived("n"),
     dict(old_changes_declared=True, arrivals=NEW_MAIL), {"source_changed"}),
    ("new's arrivals copied to old, old's reference undeclared", arrived("n"), arrived("n"),
     dict(arrivals=NEW_MAIL), {"source_changed"}),
    ("old's database changed by an sql step on old",
     lambda s: s.user_db["mailserver.virtual_users"]["1"].__setitem__("quota", "5"),
     lambda s: s.user_db["mailserver.virtual_users"]["1"].__setitem__("quota", "5"),
     dict(old_changes_declared=True, old_db_declared=True), set()),
    ("old's database changed with no sql step on old",
     lambda s: s.user_db["mailserver.virtual_users"]["1"].__setitem__("quota", "5"), lambda s: None,
     {}, {"source_changed"}),
]


@pytest.mark.parametrize(("case", "old_breakage", "new_breakage", "declared", "expected"), SOURCE_CASES,
                         ids=[c[0] for c in SOURCE_CASES])
def test_old_is_held_to_its_baseline_with_the_declared_changes(case, old_breakage, new_breakage, declared, expected):
    snapshots = {name: state() for name in ("baseline", "old", "new", "converged")}
    old_breakage(snapshots["old"])
    for name in ("new", "converged"):
        new_breakage(snapshots[name])
    findings = judge(Evidence(**snapshots, **declared), Expectations())
    assert {f.kind for f in findings} == expected, [f.one_line() for f in findings]


def test_mail_on_new_is_never_missing_on_new_when_old_holds_a_copy():
    """The two-way sync: new's arrival is on both; judged against old at the end, it is old's
    change (source_changed), not a loss on new."""
    snapshots = {name: state() for name in ("baseline", "old", "new", "converged")}
    for name in ("old", "new", "converged"):
        arrived("n")(snapshots[name])
    [changed] = judge(Evidence(**snapshots, old_changes_declared=True, arrivals=NEW_MAIL), Expectations())
    assert (changed.kind, changed.mailbox) == ("source_changed", "INBOX")
    assert changed.detail.startswith("on old: 1 unexpected") and "<n@x>" in changed.detail


def test_a_rerun_diff_names_what_the_rerun_changed():
    [rerun] = judge(evidence("converged", lambda s: archive(s).messages.pop()), Expectations())
    assert rerun.mailbox == "Archive" and rerun.detail.startswith("the rerun changed new: 1 unexpected")


def test_smoke_message_never_delivered_is_a_finding():
    findings = judge(evidence("new", lambda s: None, undelivered=(Arrival(USER, "<smoke@x>"),)), Expectations())
    assert [(f.kind, f.user) for f in findings] == [("delivery_failed", USER)]


def test_findings_name_user_mailbox_and_uid():
    old, new = state(), state()
    inbox(new).messages.pop(1)
    [finding] = compare(old, new)
    assert (finding.kind, finding.user, finding.mailbox, finding.uid) == ("missing", USER, "INBOX", 2)


@pytest.mark.parametrize("expect", [Expectations(preserved=["messages", "subscriptions"]),
                                    Expectations(lost=["uidvalidity", "uids"])], ids=["preserved", "lost"])
def test_declared_losses_are_tolerated_and_others_are_not(expect):
    def broken(s):
        renumber(s)
        user(s).subscriptions.clear()
    findings = judge(evidence("new", broken), expect)
    assert {f.kind: f.tolerated for f in findings} == {"uidvalidity_changed": True, "subscription_lost": False}


def test_lost_names_what_may_go_so_a_property_added_later_is_checked():
    assert Expectations(lost=["sieve"]).must_hold("some_new_property")
    assert not Expectations(preserved=["messages"]).must_hold("some_new_property")


def test_an_arrival_is_expected_mail_and_a_missing_one_is_a_finding():
    old, new = state(), state()
    inbox(new).messages.append(message(4, "s", message_id="<smoke@x>"))
    user(new).pop3_uidls.append("00000004")
    assert compare(old, new, arrivals=(Arrival(USER, "<smoke@x>"),)) == []
    findings = compare(old, state(), arrivals=(Arrival(USER, "<smoke@x>"),))
    assert [(f.kind, f.detail) for f in findings] == [("delivery_failed", "<smoke@x> was sent but never arrived")]


def test_a_declared_column_change_must_hold_exactly():
    """Roundcube's users.mail_host after `UPDATE users SET mail_host=...`: the new value is
    required, old's value is a finding, other columns still must match."""
    def with_host(mail_host, language="de_DE"):
        snapshot = state()
        snapshot.user_db["roundcube.users"] = {"1": {"user_id": "1", "username": USER, "mail_host": mail_host,
                                                     "language": language}}
        return snapshot
    changes = Expectations(db_changes=[{"table": "roundcube.users", "column": "mail_host", "value": "new"}]).db_changes
    assert compare(with_host("old"), with_host("new"), changes) == []
    [forgotten] = compare(with_host("old"), with_host("old"), changes)
    assert forgotten.kind == "db_row_changed" and "mail_host is 'old', expected 'new'" in forgotten.detail
    [other] = compare(with_host("old"), with_host("new", language="en_US"), changes)
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


def without_message_ids(s):
    for m in inbox(s).messages:
        m.message_id = None


# Mail without a Message-ID (old mailers, malformed-mail): the comparison pairs by content, then
# by UID within one UID space; with both gone it cannot tell an altered copy from another message.
NO_MESSAGE_ID_CASES = [
    ("kept", lambda s: None, set()),
    ("UIDs swapped", lambda s: (setattr(inbox(s).messages[0], "uid", 2), setattr(inbox(s).messages[1], "uid", 1)),
     {"uid_changed"}),
    ("content altered, same UID", lambda s: setattr(inbox(s).messages[0], "sha256", "f" * 8), {"content_changed"}),
    ("content altered on a copy", lambda s: (renumber(s), setattr(inbox(s).messages[0], "sha256", "f" * 8)),
     {"uidvalidity_changed", "missing", "unexpected"}),
]


@pytest.mark.parametrize(("case", "breakage", "expected"), NO_MESSAGE_ID_CASES, ids=[c[0] for c in NO_MESSAGE_ID_CASES])
def test_mail_without_message_id_is_paired_by_content_then_uid(case, breakage, expected):
    def broken(s):
        without_message_ids(s)
        breakage(s)
    snapshots = {name: state() for name in ("baseline", "old", "new", "converged")}
    for name in ("baseline", "old"):
        without_message_ids(snapshots[name])
    for name in ("new", "converged"):
        broken(snapshots[name])
    assert {f.kind for f in judge(Evidence(**snapshots), Expectations())} == expected


def test_a_password_hash_is_kept_as_a_keyed_digest_that_still_tells_a_change():
    from types import SimpleNamespace

    from maillab.lab.stores import hidden as _hidden

    host, other_lab = (SimpleNamespace(secrets=SimpleNamespace(doveadm=key)) for key in ("k1", "k2"))
    crypt = "{SHA512-CRYPT}$6$salt$hash"
    row = {"id": "1", "email": "a@example.org", "password": crypt}
    hidden = _hidden(host, row)
    assert crypt not in str(hidden) and hidden["password"].startswith("hmac-sha256:")
    assert hidden == _hidden(host, dict(row)) != _hidden(host, row | {"password": crypt + "x"})
    assert hidden != _hidden(other_lab, row)
    assert _hidden(host, {"id": "1"}) == {"id": "1"} and _hidden(host, {"password": None}) == {"password": None}


def test_a_parent_lsub_lists_only_for_a_subscribed_child_is_not_a_subscription():
    """Courier answers LSUB "" "*" with the parents of a subscribed folder, marked Noselect
    (RFC 3501 6.3.9; measured: INBOX.A.B subscribed gives INBOX.A and INBOX too); Dovecot does
    not. A subscribed folder that is Noselect itself (its mailbox gone) stays one."""
    lsub = [((b"\\HasNoChildren",), b".", "INBOX.A.B"), ((b"\\Noselect", b"\\HasChildren"), b".", "INBOX.A"),
            ((b"\\Noselect", b"\\HasChildren"), b".", "INBOX"), ((b"\\Noselect",), b".", "INBOX.Gone")]
    assert _subscribed(lsub, ".") == ["INBOX.A.B", "INBOX.Gone"]
