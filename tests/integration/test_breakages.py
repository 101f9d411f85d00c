"""A check is worth only what it can catch. Each case restores a good migration on new (wipe,
then the scenario's own steps), breaks exactly one thing the way a bad migration or a careless
admin would (on new, on old, or between two runs of the steps), and expects the verifier to
name exactly those finding classes.

A case is data (name, breakage, expected classes); the harness is the code below the table."""

from __future__ import annotations

import imaplib
import json
from pathlib import Path

import pytest

from maillab.lab.command import Command
from maillab.lab.lab import Lab
from maillab.runner.methods.context import MigrationContext
from maillab.runner.rehearsal.compare import judge
from maillab.runner.rehearsal.phases import converge, smoke_delivery
from maillab.runner.rehearsal.seed import seed_host
from maillab.runner.rehearsal.snapshot import snapshot_host
from maillab.runner.rehearsal.state import Evidence
from maillab.runner.schema.findings import FINDING_CLASSES
from maillab.runner.schema.loader import load_scenario

from .conftest import maillab

SCENARIO = Path(__file__).parent / "scenarios" / "break-table.yaml"
ALICE, BOB = "alice@example.org", "bob@example.org"
HOME = "/var/vmail/example.org/alice"
MAILDIR = f"{HOME}/Maildir"


# -- breakages: each takes the harness and damages the new server -----------------------------
def sh(script: str):
    """A breakage as a shell script on new (fixed text: the harness's own, no values in it)."""
    def breakage(h: Harness) -> None:
        h.new.run_checked(Command.script(script), "breakage")
    return breakage


def imap(folder: str, action, user: str = ALICE, role: str = "new"):
    def breakage(h: Harness) -> None:
        with h.lab[role].imap(user, h.passwords[user]) as client:
            client.select_folder(folder)
            action(client, client.search("ALL"))
    return breakage


def on_old_then_undone(folder: str, action, undo):
    """Damage old (the source) the way a wrong-direction sync would, and repair it after the
    case so that later cases find old as the baseline saw it."""
    def breakage(h: Harness) -> None:
        imap(folder, action, role="old")(h)
        h.undo.append(imap(folder, undo, role="old"))
        h.old_touched = True
    return breakage


def incomplete_first_run(h: Harness) -> None:
    """A first run that left a folder out: new as it was then, then the steps again, which
    bring it. (Expunging messages instead is no such case: `doveadm backup` then deletes the
    whole folder on new and brings it back only on a third run.)"""
    imap("INBOX", lambda c, u: c.delete_folder("Archive"))(h)
    h.converged = snapshot_host(h.new, h.passwords)
    steps = []
    assert converge(h.scenario, h.context, steps), [r.model_dump() for r in steps]


def dovecot_left_stopped(h: Harness) -> None:
    h.new.service("dovecot", "stop")


def password_changed(h: Harness) -> None:
    with h.new.db("mailserver") as db, db.cursor() as cursor:
        cursor.execute("UPDATE virtual_users SET password = %s WHERE email = %s", ("{PLAIN}changed", BOB))


def copy_message(client, folder: str, uid: int) -> int:
    data = client.fetch([uid], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])[uid]
    client.append(folder, data[b"BODY[]"], [f for f in data[b"FLAGS"] if f != b"\\Recent"],
                  data[b"INTERNALDATE"])
    return uid


def expunge(client, uids) -> None:
    client.add_flags(uids, [b"\\Deleted"])
    client.uid_expunge(uids)


def same_size_edit(folder_dir: str) -> str:
    """Alter one message file's bytes, keeping its size and mtime, and drop the cache."""
    return (f"cd {MAILDIR}/{folder_dir} && f=cur/$(ls cur | head -1) && cp -p $f /tmp/orig"
            f" && sed -i 's/@seed.maillab>/@seed.maillaX>/' $f && touch -r /tmp/orig $f"
            f" && rm -f dovecot.index.cache")


def renamed_keeping_uid(folder_dir: str) -> str:
    """Give one Maildir file another base name (its GUID) and point its dovecot-uidlist line
    at it, so the message keeps its UID: what a careless re-naming copy does."""
    return (f"cd {MAILDIR}/{folder_dir} && f=$(ls cur | head -1) && b=${{f%%:*}}"
            " && n=$(echo $b | sed s/maillab,/maillaX,/) && mv cur/$f cur/$n:${f#*:}"
            " && sed -i \"s/:$b\\$/:$n/\" dovecot-uidlist && rm -f dovecot.index.cache")


def lmtp_broken_and_mail_sent(h: Harness) -> None:
    """SMTP takes the message, but Postfix cannot hand it to Dovecot: it never arrives."""
    postconf = Command.script('postconf -e "virtual_transport=$1" && postfix reload', "lmtp:unix:private/nowhere")
    h.new.run_checked(postconf, "breaking LMTP")
    smoke, delivered = smoke_delivery(h.lab, ALICE, h.passwords)
    assert not delivered
    h.undelivered.append(smoke)
    h.undo.append(lambda h: h.new.run_checked(Command.script(postconf.argv[2], "lmtp:unix:private/dovecot-lmtp"),
                                              "repairing LMTP"))


BREAKAGES = [
    ("nothing broken", lambda h: None, set()),
    ("flag removed", imap("INBOX", lambda c, u: c.remove_flags(u[:1], [b"\\Seen"])), {"flags_changed"}),
    ("keyword removed", imap("INBOX", lambda c, u: c.remove_flags(u[:1], [b"Work"])), {"keywords_changed"}),
    ("message expunged", imap("Archive", lambda c, u: expunge(c, u[:1])), {"missing"}),
    ("foreign message appended", imap("Archive", lambda c, u: c.append("Archive", b"Subject: x\r\n\r\nnew\r\n")),
     {"unexpected"}),
    ("message appended twice", imap("Archive", lambda c, u: copy_message(c, "Archive", u[0])), {"duplicate"}),
    ("message re-uploaded", imap("Archive", lambda c, u: expunge(c, [copy_message(c, "Archive", u[0])])),
     {"uid_changed", "guid_changed"}),  # an APPEND is a new message to Dovecot: new UID, new GUID
    ("message GUID changed", sh(renamed_keeping_uid(".Archive")), {"guid_changed"}),
    ("bytes of a message altered", sh(same_size_edit(".Archive")), {"content_changed"}),
    ("file mtime reset", sh(f"cd {MAILDIR}/.Archive && touch -d 2001-02-03 cur/$(ls cur | head -1)"
                            " && rm -f dovecot.index.cache"), {"date_changed"}),
    ("dovecot-uidlist dropped, force-resync", sh(f"cd {MAILDIR}/.Lists.Dev && rm -f dovecot-uidlist dovecot.index*"
                                                 f" && doveadm force-resync -u {ALICE} Lists/Dev"),
     {"uidvalidity_changed"}),
    # the newest message gone and the uidlist's next-UID lowered, as an old uidlist copied back does
    ("older uidlist restored", sh(f"cd {MAILDIR}/.Lists.Dev && find cur new -name \"$(tail -1 dovecot-uidlist | sed 's/.* ://')*\" -delete"
                                  " && sed -i -e '$d' -e '1s/ N[0-9]* / N6 /' dovecot-uidlist && rm -f dovecot.index* ../dovecot.list.index*"),
     {"missing", "uidnext_lowered"}),
    ("folder deleted", imap("INBOX", lambda c, u: c.delete_folder("Newsletters")), {"folder_missing"}),
    ("folder created", imap("INBOX", lambda c, u: c.create_folder("Surprise")), {"folder_unexpected"}),
    ("folder unsubscribed", imap("INBOX", lambda c, u: c.unsubscribe_folder("Archive")), {"subscription_lost"}),
    ("folder subscribed", imap("INBOX", lambda c, u: c.subscribe_folder("Empty")), {"subscription_added"}),
    ("sieve script deleted", sh(f"rm {HOME}/sieve/spare.sieve"), {"sieve_lost"}),
    ("sieve script edited", sh(f"echo '# edited' >> {HOME}/sieve/spare.sieve"), {"sieve_changed"}),
    ("sieve script added", sh(f"echo keep\\; > {HOME}/sieve/extra.sieve && chown vmail: {HOME}/sieve/extra.sieve"),
     {"sieve_unexpected"}),
    ("sieve script deactivated", sh(f"rm {HOME}/.dovecot.sieve"), {"sieve_active_changed"}),
    ("pop3_uidl_format changed", sh("echo 'pop3_uidl_format = %g' > /etc/dovecot/maillab.d/99-break.conf"
                                    " && doveadm reload && sleep 1"), {"uidl_changed"}),
    ("user row changed", sh("mysql mailserver -e \"UPDATE virtual_users SET quota=1 WHERE email='bob@example.org'\""),
     {"db_row_changed"}),
    ("alias row deleted", sh("mysql mailserver -e 'DELETE FROM virtual_aliases'"), {"db_row_missing"}),
    ("alias row added", sh("mysql mailserver -e \"INSERT INTO virtual_aliases (domain_id, source, destination)"
                           " VALUES (1, 'x@example.org', 'bob@example.org')\""), {"db_row_unexpected"}),
    ("LMTP broken at the cutover", lmtp_broken_and_mail_sent, {"delivery_failed"}),
    ("dovecot left stopped on new", dovecot_left_stopped, {"service_down"}),
    ("a user's password no longer works", password_changed, {"login_failed", "db_row_changed"}),
    ("old's flags changed by the migration", on_old_then_undone("INBOX", lambda c, u: c.remove_flags(u[:2], [b"\\Seen"]),
                                                               lambda c, u: c.add_flags(u[:2], [b"\\Seen"])),
     {"source_changed"}),
    ("only the rerun finished the copy", incomplete_first_run, {"not_idempotent"}),
]


class Harness:
    def __init__(self, lab: Lab, scenario, passwords: dict[str, str]) -> None:
        self.lab, self.scenario, self.passwords = lab, scenario, passwords
        self.new = lab["new"]
        self.context = MigrationContext(lab, scenario, passwords)
        self.baseline = snapshot_host(lab["old"], passwords)
        self.arrivals, self.undelivered, self.undo = [], [], []
        self.converged, self.old_touched = None, False

    def restore_good_migration(self) -> None:
        self.arrivals, self.undelivered, self.undo = [], [], []
        self.converged, self.old_touched = None, False
        self.new.run_checked(Command.script("rm -rf /var/vmail/example.org; if ls /etc/dovecot/maillab.d/99-* 2>/dev/null;"
                                            " then rm /etc/dovecot/maillab.d/99-*; doveadm reload; sleep 1; fi"),
                             "wiping new")
        for service in self.new.stopped(["postfix", "dovecot"]):
            self.new.service(service, "start")
        self.new.wait_until_ready(timeout=30)
        steps = []
        assert converge(self.scenario, self.context, steps), [r.model_dump() for r in steps]

    def findings(self):
        new = snapshot_host(self.new, self.passwords)
        old = snapshot_host(self.lab["old"], self.passwords) if self.old_touched else self.baseline
        evidence = Evidence(baseline=self.baseline, old=old, new=new, converged=self.converged,
                            arrivals=tuple(self.arrivals), undelivered=tuple(self.undelivered))
        for undo in self.undo:
            undo(self)
        return judge(evidence, self.scenario.expect)


@pytest.fixture(scope="module")
def harness(images):
    scenario = load_scenario(SCENARIO)
    with Lab(dict(scenario.hosts)) as lab:
        passwords = {user.address: lab.new_secret(12) for user in scenario.users}
        seed_host(lab["old"], scenario, passwords)
        yield Harness(lab, scenario, passwords)


@pytest.mark.parametrize(("case", "breakage", "expected"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_breakage_is_reported_as_exactly_its_classes(harness, case, breakage, expected):
    harness.restore_good_migration()
    breakage(harness)
    findings = harness.findings()
    assert {f.kind for f in findings} == expected, [f.model_dump(by_alias=True) for f in findings]
    assert all(f.user in (ALICE, BOB, "-") for f in findings), [f.user for f in findings]


# -- the live cutover: a good cutover (scenarios/ispmail-cutover.yaml) broken one way per row,
# each run whole, since the ledger judges the internet's mail from before the first step to
# after the last: (case, scenario in scenarios/, classes, what every finding's detail says)
CUTOVER_BREAKAGES = [
    ("only Dovecot stopped on old (seed 003 as written)", "negative-cutover-dovecot-only", {"stranded"},
     "still in old's Postfix queue"),
    ("the DNS switched with no final sync", "negative-cutover-no-final-sync", {"stranded"}, "after the last sync"),
    ("the TTL never lowered", "negative-cutover-ttl-never-lowered", {"stranded"}, "after the last sync"),
    ("new rejects mail during the window", "negative-cutover-bounced", {"bounced"}, "Relay access denied"),
    ("certificates not copied", "negative-cutover-certificates-not-copied", {"tls_failed"}, "hostname mismatch"),
]


@pytest.mark.parametrize(("case", "scenario", "expected", "detail"), CUTOVER_BREAKAGES,
                         ids=[b[0] for b in CUTOVER_BREAKAGES])
def test_a_broken_cutover_is_reported_as_exactly_its_classes(images, tmp_path, case, scenario, expected, detail):
    run = maillab("run", str(SCENARIO.parent / f"{scenario}.yaml"), "--report-dir", str(tmp_path))
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    findings = report["findings"]
    assert {f["class"] for f in findings} == expected, [f for f in findings if f["class"] not in expected][:5] or findings[:5]
    assert all(detail in f["detail"] for f in findings), findings[:5]
    ledger = report["ledger"]
    lost = {e["message_id"] for e in ledger["not_delivered"] if e["fate"] in ("bounced", "stranded", "missing")}
    assert ledger["lost"] == len(lost) and ledger["delivered"] + ledger["lost"] + ledger["delayed"] == ledger["sent"]
    # every lost message is named, with its fate, in the report and the findings
    assert lost == {f["detail"].split(":")[0] for f in findings if f["class"] in ("bounced", "stranded")}
    assert (tmp_path / "timeline.png").stat().st_size > 10_000


def test_every_finding_class_is_caught_by_a_real_breakage():
    from .test_own_config import CASES as REFUSED_CONFIGURATIONS  # noqa: PLC0415  (config_failed: a typo in new's)

    caught = set().union(*(expected for _, _, expected in BREAKAGES), *(b[2] for b in CUTOVER_BREAKAGES),
                         *(case[4] for case in REFUSED_CONFIGURATIONS if case[4]))
    assert caught == set(FINDING_CLASSES)


def test_a_stopped_service_stops_and_starts_alone(harness):
    harness.restore_good_migration()
    starts_before = harness.new.logs().count("starting up for imap")
    harness.new.service("dovecot", "stop")
    try:
        with pytest.raises((OSError, imaplib.IMAP4.error)):
            harness.new.imap(ALICE, harness.passwords[ALICE])
        assert harness.new.stopped(["postfix", "dovecot"]) == ["dovecot"]
    finally:
        harness.new.service("dovecot", "start")
    harness.new.wait_until_ready(timeout=30)
    assert harness.new.logs().count("starting up for imap") == starts_before + 1  # every service logs to the container log
