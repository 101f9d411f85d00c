"""The snapshot's fast FETCH reading (the stdlib's imaplib, parsed in runner/rehearsal/snapshot.py) is
the same as what imapclient's own parser reads from the same server: every message's UID,
content hash, flags, keywords, INTERNALDATE, size, Message-ID and GUID, on Dovecot 2.3 and
2.4, for the default rehearsal's mail (attachments, keywords, non-ASCII folders, \\Deleted)
and a message shaped to trip a naive parser (a keyword that looks like an item's name)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import secrets
from dataclasses import asdict

from maillab.lab.lab import Lab
from maillab.runner.rehearsal.seed import seed_host
from maillab.runner.rehearsal.snapshot import snapshot_user
from maillab.runner.schema.loader import load_scenario
from maillab.runner.schema.scenario import HostSpec

from .conftest import ROOT

SCENARIO = load_scenario(ROOT / "scenarios/bullseye-to-bookworm.yaml")
TRICKY = {"subject": "A keyword named like an item", "date": "2024-02-29T23:59:59+05:30",
          "keywords": ["UID", "RFC822.SIZE", "X-GUID"], "flags": ["\\Answered"]}


def imapclient_reading(imap, folder: str) -> dict[int, dict]:
    """What imapclient's parser makes of the folder: the reference."""
    imap.select_folder(folder, readonly=True)
    fetched = imap.fetch(imap.search("ALL"), ["BODY.PEEK[]", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "X-GUID"])
    imap.unselect_folder()
    reading = {}
    for uid, data in fetched.items():
        body, flags = data[b"BODY[]"], [flag.decode() for flag in data[b"FLAGS"]]
        reading[uid] = {
            "sha256": hashlib.sha256(body).hexdigest(),
            "flags": tuple(sorted(f for f in flags if f.startswith("\\") and f != "\\Recent")),
            "keywords": tuple(sorted(f for f in flags if not f.startswith("\\"))),
            "internaldate": data[b"INTERNALDATE"].astimezone(dt.timezone.utc),
            "size": data[b"RFC822.SIZE"],
            "message_id": email.message_from_bytes(body, policy=email.policy.compat32)["Message-ID"],
            "guid": data[b"X-GUID"].decode(),
        }
    return reading


def test_the_fast_reading_equals_imapclients(images):
    user = SCENARIO.users[0].model_copy(deep=True)
    user.folders[0].messages.append(type(user.folders[0].messages[0]).model_validate(TRICKY))
    scenario = SCENARIO.model_copy(update={"users": [user]})
    password = secrets.token_urlsafe(12)
    with Lab({"old": HostSpec(suite="bullseye"), "new": HostSpec(suite="trixie")}) as lab:  # Dovecot 2.3 and 2.4
        for host in lab.hosts.values():
            seed_host(host, scenario, {user.address: password})
            state = snapshot_user(host, user.address, password)
            with host.imap(user.address, password) as imap:
                prefix, separator = imap.namespace().personal[0]
                for _, _, name in imap.list_folders():
                    canonical = name if name == "INBOX" else name.removeprefix(prefix).replace(separator, "/")
                    expected = imapclient_reading(imap, name)
                    got = {m.uid: {k: v for k, v in asdict(m).items() if k != "uid"}
                           for m in state.folders[canonical].messages}
                    assert got == expected, (host.spec.suite, canonical)
            assert state.message_count == sum(f.count + len(f.messages) for f in user.folders) > 1000
            [tricky] = [m for m in state.folders["INBOX"].messages if m.keywords == tuple(sorted(TRICKY["keywords"]))]
            assert tricky.internaldate == dt.datetime(2024, 2, 29, 18, 29, 59, tzinfo=dt.timezone.utc)


def test_a_snapshot_reads_again_only_the_bytes_an_earlier_one_cannot_vouch_for(images):
    """A snapshot given an earlier one of the host (as the rehearsal's last ones are) equals a
    snapshot taken afresh after flags changed, a message expunged, one appended and a folder
    made again (a new UIDVALIDITY); the bytes it takes from the earlier one are exactly those of
    messages with the same UID, GUID, size and date (an earlier hash doctored shows through, a
    doctored GUID makes the message read again)."""
    user = SCENARIO.users[0]
    scenario = SCENARIO.model_copy(update={"users": [user]})
    password = secrets.token_urlsafe(12)
    with Lab({"old": HostSpec(suite="bookworm")}) as lab:
        host = lab["old"]
        seed_host(host, scenario, {user.address: password})
        earlier = snapshot_user(host, user.address, password)
        with host.imap(user.address, password) as imap:
            imap.select_folder("INBOX")
            first, second, *_ = imap.search("ALL")
            imap.remove_flags([first], [b"\\Seen"])
            imap.add_flags([second], [b"\\Deleted"])
            imap.expunge()
            imap.append("INBOX", b"Subject: appended\r\nMessage-ID: <appended@lab>\r\n\r\nnew\r\n")
            imap.delete_folder("Archive")
            imap.create_folder("Archive")
            imap.append("Archive", b"Subject: in the folder made again\r\n\r\nnew\r\n")
        afresh = snapshot_user(host, user.address, password)
        assert snapshot_user(host, user.address, password, earlier=earlier) == afresh

        doctored = earlier.model_copy(deep=True)
        inbox = doctored.folders["INBOX"].messages
        inbox[0].sha256 = "0" * 64
        third = inbox[2]
        third.sha256, third.guid = "1" * 64, "another GUID"
        again = snapshot_user(host, user.address, password, earlier=doctored)
        by_uid = {m.uid: m for m in again.folders["INBOX"].messages}
        assert by_uid[first].sha256 == "0" * 64  # taken from the earlier snapshot, not read
        assert by_uid[third.uid] == {m.uid: m for m in afresh.folders["INBOX"].messages}[third.uid]  # read again
