"""The shape of a captured server as a scenario: pure, from the facts `maillab capture` fetched.

A folder's facts are tallied as they are fetched (counts, flags, keywords, sizes, dates: no
content, no address), and the tallies become a scenario document that `runner/schema/loader.py`
loads: the server's folders in the scenario's 'A/B' form, their subscriptions, message
counts, flag and keyword shares, size and date ranges, and Sieve script names with a
harmless generated script in place of each. What the schema cannot say (the size
distribution within the range, subscriptions to folders that are not there) goes into
comments beside the values. Nothing here talks to a server.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .vocabulary import MESSAGE_MAX, NAMESPACES, SYSTEM_FLAGS

SHARE_DIGITS = 4  # 1 message in 10,000 still shows
GENERATED_DOMAIN = "example.org"  # RFC 2606: a domain that is nobody's


@dataclass(frozen=True)
class Migration:
    """A shipped scenario's migration, given to a captured scenario to start from."""

    scenario: str
    new_namespace: str
    steps: list[dict]
    lost: list[str]


# By the namespace old shows: the default rehearsal's doveadm backup; from a Courier-style
# server that fails (into a Courier-style bookworm, Dovecot 2.3.19: 65, "INBOX can't be
# deleted", docs/own-server.md; to Dovecot's namespace the rerun ends in 75 and folders go
# missing), so it is moved over IMAP as scenarios/imapc-courier.yaml does, which loses Sieve
# and GUIDs (Dovecot's docs).
MIGRATIONS = {
    "dovecot": Migration("bullseye-to-bookworm", "dovecot",
                         [{"method": "copy_userdb"}, {"method": "doveadm_backup", "direction": "pull", "users": "all"}],
                         []),
    "courier": Migration("imapc-courier", "dovecot",
                         [{"method": "copy_userdb"}, {"method": "imapc", "auth": "user_password"}], ["sieve", "guids"]),
}


def generated_address(index: int) -> str:
    """The address that stands in for the index-th captured user (1-based)."""
    return f"user{index}@{GENERATED_DOMAIN}"


def host_namespace(prefix: str, separator: str) -> str:
    """The lab's namespace style closest to what the server showed its clients: Courier's
    `INBOX.` with '.', or Dovecot's own (the names are converted to 'A/B' in either case)."""
    for style, (known_prefix, known_separator) in NAMESPACES.items():
        if prefix.upper() == known_prefix.upper() and separator == known_separator:
            return style
    return "dovecot"


@dataclass
class FolderTally:
    """What FETCH FLAGS, INTERNALDATE and RFC822.SIZE told of one folder's messages, summed up
    as they arrive (a big folder is never held in memory: sizes are 4 bytes each)."""

    name: str  # in the scenario's 'A/B' form
    subscribed: bool = False
    count: int = 0
    flags: Counter = field(default_factory=Counter)
    keywords: Counter = field(default_factory=Counter)
    sizes: array = field(default_factory=lambda: array("L"))
    earliest: dt.datetime | None = None
    latest: dt.datetime | None = None

    def add(self, flags: Iterable[str], size: int, internaldate: dt.datetime) -> None:
        """One message as FETCH returned it; \\Recent (a session's, not the message's) and
        flags the schema does not know are left out."""
        self.count += 1
        for flag in set(flags):
            if flag in SYSTEM_FLAGS:
                self.flags[flag] += 1
            elif not flag.startswith("\\"):
                self.keywords[flag] += 1
        self.sizes.append(min(max(size, 1), MESSAGE_MAX))
        moment = internaldate.astimezone(dt.timezone.utc)
        self.earliest = moment if self.earliest is None else min(self.earliest, moment)
        self.latest = moment if self.latest is None else max(self.latest, moment)


def _shares(counts: Counter, total: int, order: Iterable[str]) -> CommentedMap:
    return _flow_map(**{name: round(counts[name] / total, SHARE_DIGITS) for name in order if counts[name]})


def _flow(*values) -> CommentedSeq:
    sequence = CommentedSeq(values)
    sequence.fa.set_flow_style()
    return sequence


def _percentile(ordered: list[int], share: float) -> int:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def folder_fragment(tally: FolderTally) -> CommentedMap:
    """A scenario folder with the tally's shape. Flags are always written (the schema's
    default would give a folder of unread mail 60 % \\Seen); no attachments, since FETCH of
    sizes alone does not say which messages had any, and the sizes already count them."""
    folder = CommentedMap(name=tally.name, subscribed=tally.subscribed, count=tally.count)
    if not tally.count:
        folder["flags"] = _flow_map()
        return folder
    folder["flags"] = _shares(tally.flags, tally.count, SYSTEM_FLAGS)
    if tally.keywords:
        folder["keywords"] = _shares(tally.keywords, tally.count, sorted(tally.keywords))
    ordered = sorted(tally.sizes)
    folder["sizes"] = _flow(ordered[0], ordered[-1])
    # the lab draws sizes evenly between the two; the server's spread is kept for the reader
    folder.yaml_add_eol_comment(f"RFC822.SIZE on the server: median {_percentile(ordered, 0.5)}, "
                                f"90 % up to {_percentile(ordered, 0.9)}", "sizes")
    folder["attachments"] = 0
    folder["dates"] = _flow(tally.earliest.date(), tally.latest.date())
    return folder


@dataclass(frozen=True)
class UserShape:
    """One captured user: selectable folders in the server's order, the subscriptions no
    folder here carries, and Sieve (None: ManageSieve did not answer)."""

    folders: list[FolderTally]
    namespace: str = "dovecot"  # the lab's style closest to the server's (host_namespace)
    stray_subscriptions: int = 0  # subscribed names that are no selectable folder
    sieve_scripts: list[str] | None = None
    sieve_active: str | None = None


def sieve_stand_in(name: str) -> str:
    """A harmless script in place of the captured one: it keeps every message."""
    return f"# maillab capture: stands in for the script {name!r} of the captured server\nkeep;\n"


def user_fragment(address: str, shape: UserShape, maildir: str | None = None) -> CommentedMap:
    """The user, with generated mail of each folder's shape, or with `maildir` (the tree
    --with-content exported) imported: then the folders listed only carry subscriptions."""
    if maildir is None:
        folders = CommentedSeq(folder_fragment(f) for f in shape.folders)
        user = CommentedMap(address=address, folders=folders)
    else:
        folders = CommentedSeq(CommentedMap(name=f.name, subscribed=f.subscribed) for f in shape.folders)
        user = CommentedMap([("address", address), ("import", _flow_map(maildir=maildir)), ("folders", folders)])
    if shape.stray_subscriptions:
        user.yaml_add_eol_comment(f"also subscribed to {shape.stray_subscriptions} names that are no selectable "
                                  "folder (a scenario subscribes only its folders)", "address")
    if shape.sieve_scripts:
        sieve = CommentedMap(scripts=CommentedMap((name, sieve_stand_in(name)) for name in shape.sieve_scripts))
        if shape.sieve_active:
            sieve["active"] = shape.sieve_active
        user["sieve"] = sieve
    return user


# What the captured hosts (Debian 11 and 12: Dovecot 2.3) escape a '.' in a folder name with,
# and what --with-content writes such a name with
DOTTED_NAMES_ESCAPE = "\\"


def scenario_document(users: dict[str, UserShape], *, name: str = "captured", read: str = "",
                      notes: Iterable[str] = (), maildirs: dict[str, str] | None = None) -> CommentedMap:
    """The whole scenario: `users` by the address each gets in it, on hosts showing the
    namespace most of them had, with a shipped migration as its steps (the admin sets their
    own). `read` says what was read from where; `notes` are further header lines; `maildirs`
    (by address) the trees --with-content exported, which the users then import."""
    styles = Counter(shape.namespace for shape in users.values())
    namespace = styles.most_common(1)[0][0] if styles else "dovecot"
    if len(styles) > 1:
        notes = [*notes, f"The users' namespaces differ ({', '.join(sorted(styles))}); the hosts show {namespace}."]
    migration = MIGRATIONS[namespace]
    old = {"namespace": namespace} if namespace != "dovecot" else {}
    new = {"namespace": migration.new_namespace} if migration.new_namespace != "dovecot" else {}
    if any("." in folder.name for shape in users.values() for folder in shape.folders):
        old["listescape_char"] = new["listescape_char"] = DOTTED_NAMES_ESCAPE
        notes = [*notes, "Folder names hold '.': both hosts keep them with 2.3's listescape (docs/folder-layouts.md)."]
    document = CommentedMap(
        name=name,
        description=f"the shape of {len(users)} captured users ({sum(len(u.folders) for u in users.values())} "
                    f"folders, {sum(f.count for u in users.values() for f in u.folders)} messages)",
        seed=1,
        hosts=CommentedMap(old=_flow_map(suite="bullseye", **old), new=_flow_map(suite="bookworm", **new)),
        users=CommentedSeq(user_fragment(address, shape, (maildirs or {}).get(address))
                           for address, shape in users.items()),
        steps=CommentedSeq(CommentedMap(step) for step in migration.steps),
        expect=CommentedMap(lost=_flow(*migration.lost)),
    )
    header = [
        f"Captured by maillab capture{': ' + read if read else ''}.",
        "The users import the messages exported with --with-content (bytes, flags, keywords and dates as on the "
        "server); Sieve scripts are stand-ins (names kept)." if maildirs else
        "Shape only: message bodies are generated, addresses replaced, Sieve scripts stand-ins (names kept).",
        f"The suites and steps below are a shipped migration's (scenarios/{migration.scenario}.yaml):",
        "set your own suites, formats and steps before you rehearse.",
        *notes,
    ]
    document.yaml_set_start_comment("\n".join(header))
    return document


def _flow_map(**values) -> CommentedMap:
    mapping = CommentedMap(values)
    mapping.fa.set_flow_style()
    return mapping
