"""The lab's Gmail store without Docker or Twisted (dockerfiles/gmail/gmail_store.py): one
message, many folders; All Mail holds archived mail; per-folder UIDs; Gmail's EXPUNGE, COPY,
X-GM-LABELS and POP3 rules; the store survives a restart (a new Mailstore on the same files)."""

from __future__ import annotations

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "dockerfiles", "gmail", "gmail_store.py")
_spec = importlib.util.spec_from_file_location("gmail_store", _PATH)
gmail_store = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gmail_store)

ALL, STARRED, TRASH = gmail_store.ALL_MAIL, gmail_store.STARRED, gmail_store.TRASH
USER = "a@example.org"


def _mail(n: int, extra: str = "") -> bytes:
    return (f"From: x@example.net\r\nSubject: m{n}\r\nMessage-ID: <m{n}@example.net>\r\n"
            f"{extra}\r\nbody {n}\r\n").encode()


@pytest.fixture
def store(tmp_path):
    gmail_store.add_user(USER, "secret", root=str(tmp_path))
    return gmail_store.Mailstore(USER, root=str(tmp_path))


def _subjects(store, folder):
    return [store.read(meta).split(b"Subject: ")[1].split(b"\r\n")[0].decode()
            for _, meta in store.view(folder)]


def test_password_is_hashed_and_checked(tmp_path, store):
    users = open(tmp_path / "users.json").read()
    assert "secret" not in users and "scrypt" in users
    assert gmail_store.check_password(USER, "secret", root=str(tmp_path))
    assert not gmail_store.check_password(USER, "wrong", root=str(tmp_path))
    assert not gmail_store.check_password("b@example.org", "secret", root=str(tmp_path))


def test_folders_and_special_use(store):
    folders = store.folders()
    assert folders["[Gmail]"] == ["\\HasChildren", "\\Noselect"]
    assert folders[ALL][0] == "\\All" and folders[STARRED][0] == "\\Flagged"
    assert folders["[Gmail]/Spam"][0] == "\\Junk" and folders["INBOX"] == ["\\HasNoChildren"]
    validities = {store.uidvalidity(name) for name in gmail_store.SYSTEM}
    assert len(validities) == len(gmail_store.SYSTEM)  # each folder its own UIDVALIDITY


def test_one_message_many_folders_and_archived_mail(store):
    store.create("Work/2024")
    assert store.has_folder("Work")  # the parent label too, as Gmail
    first = store.append("INBOX", _mail(1), ["\\Seen", "$Label1"], 1700000000.0)
    store.append(ALL, _mail(2))  # archived: no label at all
    store.copy(first, "Work/2024")
    store.store_labels(first, ["\\Important"], 1)
    assert len(os.listdir(store.dir)) == 1 + 2 * 2  # state.json + one .eml/.json per message
    assert _subjects(store, "INBOX") == ["m1"]
    assert _subjects(store, "Work/2024") == ["m1"]
    assert _subjects(store, "[Gmail]/Important") == ["m1"]
    assert _subjects(store, ALL) == ["m1", "m2"]
    assert store.labels_of(first) == ["\\Important", "\\Inbox", "Work/2024"]
    assert store.flags_in(first, "INBOX") == ["$Label1", "\\Seen"]


def test_uids_per_folder_in_order_of_labelling(store):
    a = store.append("INBOX", _mail(1))
    b = store.append("INBOX", _mail(2))
    store.store_labels(b, ["Work"], 1)
    store.store_labels(a, ["Work"], 1)
    assert [row[0] for row in store.view("INBOX")] == [1, 2]
    assert [meta["msgid"] for _, meta in store.view("Work")] == [b["msgid"], a["msgid"]]
    store.store_labels(b, ["Work"], -1)
    store.store_labels(b, ["Work"], 1)  # back in the folder: a new, higher UID
    assert b["uids"]["Work"] == 3 and store.uidnext("Work") == 4


def test_starred_is_the_flagged_flag(store):
    a = store.append("INBOX", _mail(1))
    starred = store.append(STARRED, _mail(2))
    assert starred["labels"] == [] and "\\Flagged" in starred["flags"]
    store.store_flags(a, "INBOX", ["\\Flagged"], 1)
    assert _subjects(store, STARRED) == ["m2", "m1"]
    assert "\\Starred" in store.labels_of(a)
    store.store_labels(a, ["\\Starred"], -1)
    assert _subjects(store, STARRED) == ["m2"]


def test_expunge_removes_the_label_and_in_trash_deletes(store):
    a = store.append("INBOX", _mail(1))
    store.store_labels(a, ["Work"], 1)
    store.store_flags(a, "Work", ["\\Deleted"], 1)
    assert store.flags_in(a, "Work") == ["\\Deleted"] and store.flags_in(a, "INBOX") == []
    assert store.expunge("Work") == [1]
    assert store.labels_of(a) == ["\\Inbox"] and _subjects(store, ALL) == ["m1"]
    store.store_flags(a, ALL, ["\\Deleted"], 1)
    store.expunge(ALL)  # from All Mail: to the Trash, out of All Mail
    assert _subjects(store, TRASH) == ["m1"] and _subjects(store, ALL) == []
    store.store_flags(a, TRASH, ["\\Deleted"], 1)
    store.expunge(TRASH)
    assert store.messages == {} and os.listdir(store.dir) == ["state.json"]


def test_pop3_serves_all_mail_and_dele_hides_from_pop3_only(store):
    a = store.append("INBOX", _mail(1))
    store.append(ALL, _mail(2))
    store.append(TRASH, _mail(3))
    assert [store.uidl(m) for m in store.pop3_list()] == [
        "GmailId%x" % a["msgid"], "GmailId%x" % (a["msgid"] + 1)]
    assert not store.raw_matches(a, "in:^pop")
    store.pop3_delete([a])
    assert len(store.pop3_list()) == 1
    assert _subjects(store, "INBOX") == ["m1"]  # IMAP still shows it
    # what Dovecot's gmail-migration searches for (`X-GM-RAW "in:^pop"`, imapc-sync.c)
    assert store.raw_matches(a, "in:^pop")


def test_thread_ids_follow_replies(store):
    a = store.append("INBOX", _mail(1))
    reply = store.append("INBOX", _mail(2, "In-Reply-To: <m1@example.net>\r\n"))
    other = store.append("INBOX", _mail(3))
    assert reply["thrid"] == a["thrid"] == a["msgid"] and other["thrid"] == other["msgid"]


def test_raw_search(store):
    a = store.append("INBOX", _mail(1))
    store.store_labels(a, ["Work"], 1)
    b = store.append(ALL, _mail(2))
    assert store.raw_matches(a, "label:work in:inbox") and not store.raw_matches(b, "label:work")
    assert store.raw_matches(b, "in:anywhere has:nouserlabels")
    with pytest.raises(gmail_store.StoreError):
        store.raw_matches(a, "from:someone")


def test_restart_keeps_everything(tmp_path, store):
    a = store.append("INBOX", _mail(1), ["\\Seen"])
    store.store_labels(a, ["Work"], 1)
    again = gmail_store.Mailstore(USER, root=str(tmp_path))
    meta = again.messages[a["msgid"]]
    assert again.labels_of(meta) == ["\\Inbox", "Work"] and meta["uids"] == a["uids"]
    assert again.uidvalidity("Work") == store.uidvalidity("Work")
    assert again.append("INBOX", _mail(2))["msgid"] == a["msgid"] + 1


def test_reserved_names_refused(store):
    for name in ("INBOX", "[Gmail]/Foo", "[Gmail]"):
        with pytest.raises(gmail_store.StoreError):
            store.create(name)
    with pytest.raises(gmail_store.StoreError):
        store.append("[Gmail]", _mail(1))


@pytest.mark.parametrize("wildcard, matches, misses", [
    ("[Gmail]/All Mail", ["[Gmail]/All Mail"], ["[Gmail]", "G", "[Gmail]/All Mail/x"]),
    ("[Gmail]/%", ["[Gmail]/Starred", "[Gmail]/All Mail"], ["[Gmail]", "[Gmail]/Starred/x"]),
    ("*", ["INBOX", "[Gmail]/All Mail", "a.b"], []),
    ("a.b", ["a.b"], ["axb"]),
    ("inbox", ["INBOX"], ["INBOX/x"]),
])
def test_list_patterns_take_every_character_but_the_wildcards_literally(wildcard, matches, misses):
    pattern = gmail_store.list_pattern(wildcard)
    assert all(pattern.fullmatch(name) for name in matches)
    assert not any(pattern.fullmatch(name) for name in misses)
