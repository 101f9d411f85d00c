"""What a snapshot takes from an earlier one of the same host (snapshot._messages): a message's
hash and Message-ID, only while its folder's UIDVALIDITY and its UID, GUID, size and INTERNALDATE
are the same; and how a FETCH without bodies is read. The servers' side is in
tests/integration/test_snapshot.py."""

import datetime as dt
from dataclasses import replace

import pytest

from maillab.lab.errors import LabError
from maillab.runner.rehearsal.snapshot import _fetched_messages, _known_messages, same_message
from maillab.runner.rehearsal.state import MessageState

from .states import DATE, inbox, message, state

# case, the message as the server lists it now, whether it is the earlier one still
CASES = [
    ("unchanged", {}, True),
    ("flags changed", {"flags": ()}, True),  # flags are read again, the bytes are the message's
    ("keywords changed", {"keywords": ("Other",)}, True),
    ("another GUID", {"guid": "z.M1P1.host"}, False),
    ("another size", {"size": 1}, False),
    ("another INTERNALDATE", {"internaldate": DATE + dt.timedelta(seconds=1)}, False),
]


@pytest.mark.parametrize(("case", "changes", "same"), CASES, ids=[c[0] for c in CASES])
def test_a_message_is_the_earlier_one_only_with_its_guid_size_and_date(case, changes, same):
    earlier = message(1, "a")
    listed = replace(earlier, sha256="", message_id=None, **changes)  # read without its bytes
    assert same_message(earlier, listed) is same


def test_an_earlier_folder_counts_only_with_the_uidvalidity_it_has_now():
    folder = inbox(state())
    assert sorted(_known_messages(folder, folder.uidvalidity)) == [1, 2, 3]
    assert _known_messages(folder, folder.uidvalidity + 1) == {}
    assert _known_messages(None, folder.uidvalidity) == {}


def test_a_fetch_without_bodies_is_read_one_response_a_message():
    data = [b'1 (UID 4 FLAGS (\\Seen Work $Label1) INTERNALDATE "29-Feb-2024 23:59:59 +0530" RFC822.SIZE 1234 '
            b'X-GUID "abc.M1P2.host")',
            b'2 (UID 9 FLAGS () INTERNALDATE " 1-Mar-2024 00:00:00 +0000" RFC822.SIZE 10 X-GUID "def")']
    assert list(_fetched_messages(data, with_body=False)) == [
        MessageState(uid=4, sha256="", flags=("\\Seen",), keywords=("$Label1", "Work"),
                     internaldate=dt.datetime(2024, 2, 29, 18, 29, 59, tzinfo=dt.timezone.utc), size=1234,
                     guid="abc.M1P2.host"),
        MessageState(uid=9, sha256="", flags=(), keywords=(),
                     internaldate=dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc), size=10, guid="def")]


def test_a_literal_in_a_fetch_without_bodies_is_the_servers_surprise_not_a_message_lost():
    data = [(b'1 (UID 4 X-GUID {3}', b"abc"), b' FLAGS () INTERNALDATE "01-Mar-2024 00:00:00 +0000" RFC822.SIZE 1)']
    with pytest.raises(LabError, match="as a literal"):
        list(_fetched_messages(data, with_body=False))
