"""The mail store of the lab's Gmail: each message stored once, folders are views of labels.

Gmail's IMAP extensions (https://developers.google.com/gmail/imap/imap-extensions) and its
folder model: a message has labels; INBOX is the label \\Inbox, a user label is a folder of
that name ('/' nests), [Gmail]/All Mail holds every message not in Trash or Spam (archived
mail with no label too), Starred holds the starred (\\Flagged) mail. Each folder has its own
UIDVALIDITY and UIDs, given in the order messages entered the folder.

On disk, under ROOT (default /var/lib/maillab-gmail):
  users.json                      {address: {"salt": hex, "scrypt": hex}}
  mail/<address>/state.json       folders: {name: {uidvalidity, uidnext}}, subscriptions, next id
  mail/<address>/<msgid hex>.eml  the message, as appended
  mail/<address>/<msgid hex>.json its labels, flags, keywords, internal date, X-GM-MSGID,
                                  X-GM-THRID, its UID in each folder it shows in, POP3 state
Pure Python (stdlib only): the unit tests import it without Twisted.
"""
import email.parser
import email.policy
import hashlib
import hmac
import json
import os
import re
import secrets
import time

ROOT = os.environ.get("MAILLAB_GMAIL_ROOT", "/var/lib/maillab-gmail")
SEPARATOR = "/"


def list_pattern(wildcard: str) -> re.Pattern:
    """A LIST pattern (RFC 3501 6.3.8: '*' matches anything, '%' anything but the separator,
    every other character itself) as a regular expression to fullmatch a folder's name with.
    Twisted's wildcardToRegexp leaves '[' and ']' to the regular expression: `LIST "" "[Gmail]/All
    Mail"` found nothing (measured)."""
    parts = re.split(r"([*%])", wildcard)
    return re.compile("".join(".*" if part == "*" else f"[^{re.escape(SEPARATOR)}]*" if part == "%"
                              else re.escape(part) for part in parts), re.IGNORECASE)
# The system folders: name, special-use flag (RFC 6154 as Gmail lists them), the label or
# flag that puts a message there.
ALL_MAIL = "[Gmail]/All Mail"
STARRED = "[Gmail]/Starred"
TRASH = "[Gmail]/Trash"
SPAM = "[Gmail]/Spam"
SYSTEM = {
    "INBOX": ("", "\\Inbox"),
    ALL_MAIL: ("\\All", None),
    "[Gmail]/Drafts": ("\\Drafts", "\\Draft"),
    "[Gmail]/Important": ("\\Important", "\\Important"),
    "[Gmail]/Sent Mail": ("\\Sent", "\\Sent"),
    SPAM: ("\\Junk", "\\Spam"),
    STARRED: ("\\Flagged", "\\Starred"),
    TRASH: ("\\Trash", "\\Trash"),
}
PARENT = "[Gmail]"
SYSTEM_LABELS = {label: name for name, (_, label) in SYSTEM.items() if label}
STANDARD_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted")
# X-GM-MSGIDs are 64-bit numbers near Gmail's own (about 1.7e18 in 2024).
MSGID_BASE = 0x1790000000000000


def flag_name(flag):
    """A system flag in its usual case (\\seen -> \\Seen); keywords as given."""
    return "\\" + flag[1:].capitalize() if flag.startswith("\\") else flag


def changed(current: set, wanted: set, mode: int) -> set:
    """STORE's change of a set (flags, labels): mode 1 adds, -1 removes, 0 replaces."""
    if mode > 0:
        return current | wanted
    if mode < 0:
        return current - wanted
    return set(wanted)


class StoreError(Exception):
    """A client's request the store refuses (the server answers NO)."""


# --- users -----------------------------------------------------------------------------

def _scrypt(password, salt):
    return hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1)


def add_user(address, password, root=ROOT):
    """Create or re-key ADDRESS; the server reads users.json at every login."""
    os.makedirs(root, exist_ok=True)
    users = _read_json(os.path.join(root, "users.json"), {})
    salt = secrets.token_bytes(16)
    users[address] = {"salt": salt.hex(), "scrypt": _scrypt(password, salt).hex()}
    _write_json(os.path.join(root, "users.json"), users)
    Mailstore(address, root)  # its folders exist from now on


def check_password(address, password, root=ROOT):
    entry = _read_json(os.path.join(root, "users.json"), {}).get(address)
    if entry is None:
        return False
    return hmac.compare_digest(_scrypt(password, bytes.fromhex(entry["salt"])).hex(), entry["scrypt"])


# --- files -----------------------------------------------------------------------------

def _read_json(path, default):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True)
    os.replace(tmp, path)


# --- one user's mail -------------------------------------------------------------------

def label_of(folder):
    """The label a folder shows: None for All Mail and [Gmail]."""
    if folder in SYSTEM:
        return SYSTEM[folder][1]
    return folder


class Mailstore:
    """One user's messages and folders. Every change is written at once."""

    def __init__(self, address, root=ROOT):
        if "/" in address or address.startswith("."):
            raise StoreError("bad address")
        self.dir = os.path.join(root, "mail", address)
        os.makedirs(self.dir, exist_ok=True)
        self.state = _read_json(self._state_path(), None)
        if self.state is None:
            self.state = {"folders": {}, "subscribed": [], "next": 1}
            for name in SYSTEM:
                self._new_folder(name)
            self.state["subscribed"] = sorted(SYSTEM)
            self._save_state()
        self.messages = {}
        for entry in sorted(os.listdir(self.dir)):
            if entry.endswith(".json") and entry != "state.json":
                meta = _read_json(os.path.join(self.dir, entry), None)
                self.messages[meta["msgid"]] = meta

    # folders
    def _state_path(self):
        return os.path.join(self.dir, "state.json")

    def _save_state(self):
        _write_json(self._state_path(), self.state)

    def _new_folder(self, name):
        # UIDVALIDITY differs per folder, as Gmail's do.
        validity = int(time.time()) % 100000000 * 10 + len(self.state["folders"]) + 1
        self.state["folders"][name] = {"uidvalidity": validity, "uidnext": 1}

    def folders(self):
        """Every folder with its LIST flags, [Gmail] (\\Noselect) and label parents included."""
        names = set(self.state["folders"])
        listed = {}
        for name in names:
            flags = []
            if name in SYSTEM and SYSTEM[name][0]:
                flags.append(SYSTEM[name][0])
            children = any(other.startswith(name + SEPARATOR) for other in names)
            flags.append("\\HasChildren" if children else "\\HasNoChildren")
            listed[name] = flags
        listed[PARENT] = ["\\HasChildren", "\\Noselect"]
        return listed

    def has_folder(self, name):
        return name in self.state["folders"]

    def create(self, name):
        name = name.rstrip(SEPARATOR)
        if name.upper() == "INBOX" or name == PARENT or name.startswith(PARENT + SEPARATOR):
            raise StoreError("[CANNOT] reserved name")
        if self.has_folder(name):
            raise StoreError("[ALREADYEXISTS] folder exists")
        parts = name.split(SEPARATOR)
        for depth in range(1, len(parts) + 1):  # Gmail makes the parents as labels too
            partial = SEPARATOR.join(parts[:depth])
            if not self.has_folder(partial):
                self._new_folder(partial)
        self._save_state()

    def delete(self, name):
        if name in SYSTEM or not self.has_folder(name):
            raise StoreError("[CANNOT] no such user label")
        for meta in self.messages.values():
            if name in meta["labels"]:
                meta["labels"].remove(name)
                self._settle(meta)
        del self.state["folders"][name]
        if name in self.state["subscribed"]:
            self.state["subscribed"].remove(name)
        self._save_state()

    def subscribe(self, name, on=True):
        subs = set(self.state["subscribed"])
        subs.add(name) if on else subs.discard(name)
        self.state["subscribed"] = sorted(subs)
        self._save_state()

    def is_subscribed(self, name):
        return name in self.state["subscribed"]

    def uidvalidity(self, folder):
        return self.state["folders"][folder]["uidvalidity"]

    def uidnext(self, folder):
        return self.state["folders"][folder]["uidnext"]

    # membership
    @staticmethod
    def in_folder(meta, folder):
        labels = meta["labels"]
        if folder == ALL_MAIL:
            return "\\Trash" not in labels and "\\Spam" not in labels
        if folder == STARRED:
            return "\\Flagged" in meta["flags"]
        return label_of(folder) in labels

    def view(self, folder):
        """The folder's messages as [(uid, meta)], ascending UID."""
        rows = [(m["uids"][folder], m) for m in self.messages.values() if folder in m["uids"]]
        return sorted(rows, key=lambda row: row[0])

    def _settle(self, meta):
        """Give the message a new UID in each folder it entered, drop those it left, save."""
        for folder in list(meta["uids"]):
            if folder not in self.state["folders"] or not self.in_folder(meta, folder):
                del meta["uids"][folder]
        for folder in sorted(self.state["folders"]):
            if folder not in meta["uids"] and self.in_folder(meta, folder):
                box = self.state["folders"][folder]
                meta["uids"][folder] = box["uidnext"]
                box["uidnext"] += 1
        _write_json(self._meta_path(meta["msgid"]), meta)
        self._save_state()

    def _meta_path(self, msgid):
        return os.path.join(self.dir, "%x.json" % msgid)

    def body_path(self, msgid):
        return os.path.join(self.dir, "%x.eml" % msgid)

    # messages
    def append(self, folder, data, flags=(), internaldate=None):
        """A new message in FOLDER: it gets the folder's label (none in All Mail)."""
        if folder == PARENT or not self.has_folder(folder):
            raise StoreError("[TRYCREATE] no such folder")
        msgid = MSGID_BASE + self.state["next"]
        self.state["next"] += 1
        labels, flagset = set(), set()
        for flag in flags:
            if flag.startswith("\\") and flag_name(flag) not in STANDARD_FLAGS:
                continue  # \Recent and unknown system flags are not stored
            flagset.add(flag_name(flag))
        label = label_of(folder)
        if label == "\\Starred":
            flagset.add("\\Flagged")
        elif label:
            labels.add(label)
        flagset.discard("\\Deleted")
        meta = {
            "msgid": msgid,
            "thrid": self._thread_of(data, msgid),
            "labels": sorted(labels),
            "flags": sorted(flagset),
            "internaldate": internaldate if internaldate is not None else time.time(),
            "size": len(data),
            "message_id": _header(data, "Message-ID"),
            "uids": {},
            "deleted_in": [],
            "pop3_deleted": False,
        }
        with open(self.body_path(msgid) + ".tmp", "wb") as f:
            f.write(data)
        os.replace(self.body_path(msgid) + ".tmp", self.body_path(msgid))
        self.messages[msgid] = meta
        self._settle(meta)
        return meta

    def _thread_of(self, data, msgid):
        """X-GM-THRID: the thread of the message it replies to (References, In-Reply-To)."""
        refs = (_header(data, "References") or "") + " " + (_header(data, "In-Reply-To") or "")
        wanted = set(re.findall(r"<[^>]+>", refs))
        for meta in sorted(self.messages.values(), key=lambda m: m["msgid"]):
            if meta.get("message_id") and meta["message_id"].strip() in wanted:
                return meta["thrid"]
        return msgid

    def labels_of(self, meta):
        """X-GM-LABELS as Gmail answers: system labels with '\\', \\Starred for \\Flagged."""
        labels = list(meta["labels"])
        if "\\Flagged" in meta["flags"]:
            labels.append("\\Starred")
        return sorted(labels, key=lambda l: (not l.startswith("\\"), l))

    def flags_in(self, meta, folder):
        flags = list(meta["flags"])
        if folder in meta["deleted_in"]:
            flags.append("\\Deleted")
        return flags

    def store_flags(self, meta, folder, flags, mode):
        """STORE FLAGS: mode 1 adds, -1 removes, 0 replaces. \\Deleted is per folder."""
        current = changed(set(self.flags_in(meta, folder)), {flag_name(f) for f in flags}, mode)
        deleted = "\\Deleted" in current
        current.discard("\\Deleted")
        current.discard("\\Recent")
        meta["flags"] = sorted(current)
        marks = set(meta["deleted_in"])
        marks.add(folder) if deleted else marks.discard(folder)
        meta["deleted_in"] = sorted(marks)
        self._settle(meta)

    def store_labels(self, meta, labels, mode):
        """STORE X-GM-LABELS: labels by name; \\Starred is the \\Flagged flag."""
        wanted = set()
        for label in labels:
            for system in list(SYSTEM_LABELS) + ["\\Starred"]:
                if label.lower() == system.lower():
                    label = system
            if label.lower() == "inbox":
                label = "\\Inbox"
            wanted.add(label)
        current = changed(set(self.labels_of(meta)), wanted, mode)
        flags = set(meta["flags"])
        flags.add("\\Flagged") if "\\Starred" in current else flags.discard("\\Flagged")
        current.discard("\\Starred")
        for label in current:  # a new user label makes its folder, as Gmail does
            if not label.startswith("\\") and not self.has_folder(label):
                self.create(label)
        meta["flags"] = sorted(flags)
        meta["labels"] = sorted(current)
        self._settle(meta)

    def copy(self, meta, folder):
        """COPY: the same message gains the folder's label (Gmail keeps one message)."""
        if folder == PARENT or not self.has_folder(folder):
            raise StoreError("[TRYCREATE] no such folder")
        label = label_of(folder)
        if label == "\\Starred":
            meta["flags"] = sorted(set(meta["flags"]) | {"\\Flagged"})
        elif label in ("\\Trash", "\\Spam"):
            meta["labels"] = [label]  # deleting: Trash and Spam hold the message alone
        elif label:
            meta["labels"] = sorted((set(meta["labels"]) - {"\\Trash", "\\Spam"}) | {label})
        elif folder == ALL_MAIL:
            meta["labels"] = sorted(set(meta["labels"]) - {"\\Trash", "\\Spam"})
        self._settle(meta)
        return meta["uids"].get(folder)

    def expunge(self, folder):
        """EXPUNGE: the folder's \\Deleted messages leave it. In a label's folder the label
        goes (Gmail's default, auto-expunge), from All Mail to Trash, in Trash and Spam the
        message is deleted forever. Returns the UIDs that left."""
        gone = []
        for uid, meta in self.view(folder):
            if folder not in meta["deleted_in"]:
                continue
            gone.append(uid)
            meta["deleted_in"] = [f for f in meta["deleted_in"] if f != folder]
            if folder in (TRASH, SPAM):
                self._forget(meta)
                continue
            if folder == ALL_MAIL:
                meta["labels"] = ["\\Trash"]
            elif folder == STARRED:
                meta["flags"] = [f for f in meta["flags"] if f != "\\Flagged"]
            else:
                meta["labels"] = [l for l in meta["labels"] if l != label_of(folder)]
            self._settle(meta)
        return gone

    def _forget(self, meta):
        del self.messages[meta["msgid"]]
        os.remove(self._meta_path(meta["msgid"]))
        os.remove(self.body_path(meta["msgid"]))

    def read(self, meta):
        with open(self.body_path(meta["msgid"]), "rb") as f:
            return f.read()

    # POP3
    def pop3_list(self):
        """What POP3 offers: All Mail's messages in arrival order, less those deleted over
        POP3 (they stay in IMAP)."""
        rows = [m for m in self.messages.values() if self.in_folder(m, ALL_MAIL) and not m["pop3_deleted"]]
        return sorted(rows, key=lambda m: m["msgid"])

    @staticmethod
    def uidl(meta):
        """Gmail's UIDL: 'GmailId' and the X-GM-MSGID in hex (Dovecot's gmail-migration
        builds the same string from X-GM-MSGID)."""
        return "GmailId%x" % meta["msgid"]

    def pop3_delete(self, metas):
        for meta in metas:
            meta["pop3_deleted"] = True
            _write_json(self._meta_path(meta["msgid"]), meta)

    # SEARCH X-GM-RAW: the operators the lab needs
    def raw_matches(self, meta, query):
        """Gmail's search language, in part: in:anywhere, in:inbox|sent|drafts|trash|spam|
        all, in:^pop (deleted over POP3), label:NAME, is:starred|important|unread|read, has:userlabels|nouserlabels.
        Several terms all must match. Other operators raise StoreError."""
        for term in query.split():
            key, _, value = term.partition(":")
            key, value = key.lower(), value.strip('"')
            if key == "in":
                if value.lower() == "anywhere":
                    continue
                if value == "^pop":  # hidden from POP3: what Dovecot's gmail-migration asks for
                    ok = meta["pop3_deleted"]
                    if not ok:
                        return False
                    continue
                folders = {"inbox": "INBOX", "sent": "[Gmail]/Sent Mail", "drafts": "[Gmail]/Drafts",
                           "trash": TRASH, "spam": SPAM, "all": ALL_MAIL, "starred": STARRED,
                           "important": "[Gmail]/Important"}
                if value.lower() not in folders:
                    raise StoreError("X-GM-RAW: in:%s not emulated" % value)
                ok = self.in_folder(meta, folders[value.lower()])
            elif key == "label":
                ok = any(l.lower() == value.lower() or l.lower() == "\\" + value.lower()
                         for l in self.labels_of(meta))
            elif key == "is":
                ok = {"starred": "\\Flagged" in meta["flags"],
                      "important": "\\Important" in meta["labels"],
                      "unread": "\\Seen" not in meta["flags"],
                      "read": "\\Seen" in meta["flags"]}.get(value.lower())
                if ok is None:
                    raise StoreError("X-GM-RAW: is:%s not emulated" % value)
            elif key == "has" and value.lower() in ("userlabels", "nouserlabels"):
                user = any(not l.startswith("\\") for l in meta["labels"])
                ok = user if value.lower() == "userlabels" else not user
            else:
                raise StoreError("X-GM-RAW: %s not emulated" % term)
            if not ok:
                return False
        return True


def _header(data, name):
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head + b"\n\n")
    value = msg.get(name)
    return str(value) if value is not None else None
