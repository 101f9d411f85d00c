"""One known state of a host as a snapshot, and ways to reach into it: what the unit tables
break and judge."""

import datetime as dt

from maillab.runner.rehearsal.state import FolderState, HostState, MessageState, SieveState, UserState

USER = "a@example.org"
DATE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def message(uid: int, content: str, **changes) -> MessageState:
    fields = dict(uid=uid, sha256=content * 8, flags=("\\Seen",), keywords=("Work",), internaldate=DATE,
                  size=100 + uid, message_id=f"<{content}@x>", guid=f"{content}.M{uid}P1.host")
    return MessageState(**(fields | changes))


def state(role: str = "old") -> HostState:
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
    return HostState(role=role, users={USER: user}, user_db=db)


def inbox(s): return s.users[USER].folders["INBOX"]
def archive(s): return s.users[USER].folders["Archive"]
def user(s): return s.users[USER]
