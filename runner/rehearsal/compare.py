"""The comparison: a pure function of snapshots plus the expectations. It imports no Docker.

It pairs messages per folder by content (sha256), preferring the same UID, so it sees what a
client would: a message that kept its content but changed its UID, one that vanished, one that
appeared twice. Each difference is a `Finding` with a class; a class belongs to one property,
and a finding on a property the scenario declares lost is reported as tolerated.

`judge` asks three questions of the evidence: did new end up with what old had (mail, Sieve,
UIDLs, rows, services, logins), was old left as the steps were meant to leave it
(`source_changed`: its baseline plus the declared changes), and did running the steps again
change new (`not_idempotent`)?
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from ..methods.context import Arrival, FlagChange
from ..schema.findings import Finding
from ..schema.scenario import DbChange, Expectations
from ..schema.vocabulary import GMAIL_ALL_MAIL, GMAIL_POP3_DELETED, GMAIL_UIDL
from .state import Evidence, FolderState, HostState, MessageState, SieveState, UserState

# The ledger's fates that are findings (delayed mail is still on its way: reported, not lost).
LEDGER_CLASSES = {"bounced": "bounced", "stranded": "stranded", "missing": "missing", "duplicated": "duplicate"}
# Which snapshot parts each service serves; a service that did not answer leaves them unseen.
SERVES = {"IMAP": {"folders", "subscriptions", "arrivals"}, "POP3": {"uidls"}, "ManageSieve": {"sieve"},
          "MariaDB": {"db_rows"}}


def judge(evidence: Evidence, expect: Expectations) -> list[Finding]:
    traffic = evidence.traffic
    evidence = replace(evidence, old=_without(evidence.old, traffic), new=_without(evidence.new, traffic),
                       converged=_without(evidence.converged, traffic))
    # Mail sent to new is kept out of both sides: its copy on old (a two-way sync wrote it
    # there) is a change of old, never a message missing on new.
    arrived = frozenset(arrival.message_id for arrival in evidence.arrivals)
    reference = _without(evidence.old, arrived) if evidence.old_changes_declared else evidence.baseline
    if evidence.source_server == "gmail":
        reference = from_gmail(reference, evidence.new)
    findings = compare(reference, evidence.new, expect.db_changes, evidence.arrivals)
    findings += [Finding(kind="delivery_failed", user=a.user, mailbox="INBOX",
                         detail=f"{a.message_id}, sent to new after the migration, never arrived")
                 for a in evidence.undelivered]
    if evidence.old is not None:  # in place, no source is left beside the host upgraded
        findings += _summarised(source_damage(evidence), "source_changed", "on old")
    if evidence.converged is not None:
        # a folder the source shows as a parent that holds no mail (Gmail's [Gmail]): Dovecot 2.3's
        # first backup from Gmail left it openable and empty, the rerun made it the parent it is on
        # the source (measured): no client of the source could open it either
        parents = {(address, name) for address, user in reference.users.items()
                   for name, folder in user.folders.items() if not folder.selectable}
        findings += _summarised([f for f in compare(evidence.converged, evidence.new) if (f.user, f.mailbox) not in parents],
                                "not_idempotent", "the rerun changed new")
    findings += [Finding(kind="config_failed", user="-", mailbox=f"{evidence.new.role} {problem.file}"
                         + (f":{problem.line}" if problem.line else ""), detail=f"{problem.server}: {problem.message}")
                 for problem in evidence.config_refused]
    findings += [Finding(kind="tls_failed", user="-", mailbox=f"{check.service} {check.name}", detail=check.detail)
                 for check in evidence.tls if not check.ok]
    if evidence.ledger is not None:
        findings += [Finding(kind=LEDGER_CLASSES[entry.fate], user=entry.user, mailbox="INBOX",
                             detail=f"{entry.message_id}: {entry.detail}")
                     for entry in evidence.ledger.entries if entry.fate in LEDGER_CLASSES]
    for finding in findings:
        finding.tolerated = not expect.must_hold(finding.property)
    return findings


def compare(old: HostState, new: HostState, db_changes: list[DbChange] = (),
            arrivals: tuple[Arrival, ...] = ()) -> list[Finding]:
    """Every difference a client of new would see from what old's clients saw."""
    findings = [Finding(kind="service_down", user="-", mailbox=service, detail=f"{new.role} does not answer: {error}")
                for service, error in new.unanswered.items() if service not in old.unanswered]
    unseen = set().union(*(SERVES.get(service, set()) for service in {*old.unanswered, *new.unanswered}))
    for address, old_user in old.users.items():
        if old_user.login_error:
            continue  # nothing of this user was seen to compare with
        new_user = new.users.get(address) or UserState(address=address)
        if new_user.login_error and "IMAP" not in new.unanswered:
            findings.append(Finding(kind="login_failed", user=address,
                                    detail=f"{old_user.message_count} messages out of reach: {new_user.login_error}"))
            continue
        if "arrivals" not in unseen:
            expected_here = {a.message_id for a in arrivals if a.user == address}
            new_user = _without_arrivals(new_user, expected_here, findings)
        findings += _compare_user(old_user, new_user, unseen)
    if "db_rows" not in unseen:
        findings += _compare_user_db(old.user_db, new.user_db, set(old.users), db_changes)
    return findings


def from_gmail(gmail: HostState, new: HostState) -> HostState:
    """What new must hold of Gmail's mail after seed 002's procedure: every folder as Gmail shows
    it, but of All Mail only the messages no other folder of Gmail that new has brings (its
    archived mail: the rest comes with its labels, `-O '-$GmailHaveLabels'`); what Gmail's POP3 had
    deleted marked GMAIL_POP3_DELETED wherever it is; and POP3 as Dovecot's lists it: INBOX in
    UID order without those, each message by Gmail's UIDL (Gmail's POP3 lists All Mail)."""
    users = {}
    for address, user in gmail.users.items():
        arrived = new.users[address].folders if address in new.users else {}
        labelled = {_identity(m) for name, folder in user.folders.items()
                    if name != GMAIL_ALL_MAIL and name in arrived for m in folder.messages}
        listed = set(user.pop3_uidls)
        all_mail = user.folders.get(GMAIL_ALL_MAIL)
        deleted = {_identity(m) for m in all_mail.messages if _gmail_uidl(m) not in listed} if all_mail else set()
        folders = {}
        for name, folder in user.folders.items():
            kept = [m for m in folder.messages if name != GMAIL_ALL_MAIL or _identity(m) not in labelled]
            kept = [replace(m, keywords=tuple(sorted({*m.keywords, GMAIL_POP3_DELETED})))
                    if _identity(m) in deleted else m for m in kept]
            folders[name] = folder.model_copy(update={"messages": kept})
        inbox = folders["INBOX"].messages if "INBOX" in folders else []
        uidls = [_gmail_uidl(m) for m in sorted(inbox, key=lambda m: m.uid) if _identity(m) not in deleted]
        users[address] = user.model_copy(update={"folders": folders, "pop3_uidls": uidls})
    return gmail.model_copy(update={"users": users})


def archived_on_gmail(gmail: HostState, new: HostState) -> dict[str, tuple[int, int]]:
    """Per user with any: the messages Gmail holds only in All Mail (archived: in no label), and
    how many of them new's All Mail holds."""
    found = {}
    for address, user in gmail.users.items():
        if GMAIL_ALL_MAIL not in user.folders:
            continue
        elsewhere = {_identity(m) for name, folder in user.folders.items() if name != GMAIL_ALL_MAIL
                     for m in folder.messages}
        archived = {_identity(m) for m in user.folders[GMAIL_ALL_MAIL].messages} - elsewhere
        arrived = new.users.get(address, UserState(address=address)).folders.get(GMAIL_ALL_MAIL)
        if archived:
            found[address] = (len(archived), len(archived & {_identity(m) for m in (arrived.messages if arrived else [])}))
    return found


def _identity(message: MessageState) -> str:
    """One message whatever folder shows it: its GUID (Gmail's X-GM-MSGID), else its content."""
    return message.guid or message.sha256


def _gmail_uidl(message: MessageState) -> str:
    return GMAIL_UIDL.format(int(message.guid or 0))


@dataclass(frozen=True)
class StoredCopies:
    """A user's mail that a server stores more than once: the same message (the same bytes) in
    several folders. Gmail counts a message with several labels once; a Dovecot server that
    got one copy per label folder stores, and counts against the quota, every copy (seed 002)."""

    messages: int  # messages stored in more than one place
    copies: int  # the places beyond the first, added up
    copy_bytes: int  # what those copies take (RFC822.SIZE, which Dovecot's quota counts)
    stored_bytes: int  # all the user's mail, copies included
    quota: int  # bytes; 0: no quota
    folders: dict[str, int]  # folder -> how many of its messages are also stored elsewhere

    @property
    def quota_share(self) -> float | None:
        """The part of the quota the copies take (above 1: they alone exceed it)."""
        return self.copy_bytes / self.quota if self.quota else None


def stored_copies(host: HostState, quotas: dict[str, int]) -> dict[str, StoredCopies]:
    """Per user with any: the messages `host` stores in more than one folder, found by content
    (sha256)."""
    found = {}
    for address, user in host.users.items():
        places: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for name, folder in user.folders.items():
            for message in folder.messages:
                places[message.sha256].append((name, message.size))
        repeated = [where for where in places.values() if len(where) > 1]
        if not repeated:
            continue
        folders = Counter(name for where in repeated for name in dict(where))
        found[address] = StoredCopies(
            messages=len(repeated), copies=sum(len(where) - 1 for where in repeated),
            copy_bytes=sum(size for where in repeated for _, size in where[1:]),
            stored_bytes=sum(size for where in places.values() for _, size in where),
            quota=quotas.get(address, 0), folders=dict(sorted(folders.items())))
    return found


def _summarised(findings: list[Finding], kind: str, prefix: str) -> list[Finding]:
    """The differences between two snapshots of one host as one `kind` finding per user and
    mailbox, saying what changed there."""
    grouped: dict[tuple[str, str | None], list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[(finding.user, finding.mailbox)].append(finding)
    summary = []
    for (user, mailbox), found in grouped.items():
        counts = Counter(f.kind for f in found)
        what = ", ".join(f"{n} {k}" for k, n in counts.most_common())
        summary.append(Finding(kind=kind, user=user, mailbox=mailbox, detail=f"{prefix}: {what} (e.g. {found[0].one_line()})"))
    return summary


def _without_arrivals(user: UserState, message_ids: set[str], findings: list[Finding]) -> UserState:
    """The user's state minus the expected arrivals; a missing arrival is a finding."""
    if not message_ids:
        return user
    stripped, seen = _strip(user, message_ids)
    for message_id in sorted(message_ids - seen):
        findings.append(Finding(kind="delivery_failed", user=user.address, mailbox="INBOX",
                                detail=f"{message_id} was sent but never arrived"))
    return stripped


def source_damage(evidence: Evidence) -> list[Finding]:
    """How old at the end differs from old as the steps were meant to leave it: its baseline
    with the declared changes (the mail old's own Postfix took in, the flags steps changed, its
    database when an sql step changed it). The data on old, not its services: a cutover stops
    them, and the snapshot reads around what stayed down."""
    expected = _with_flags(_without(evidence.baseline, evidence.old_mail), evidence.old_flags)
    return [finding for finding in compare(expected, _without(evidence.old, evidence.old_mail))
            if finding.kind != "service_down" and not (evidence.old_db_declared and finding.kind.startswith("db_"))]


def _with_flags(host: HostState, changes: tuple[FlagChange, ...]) -> HostState:
    """`host` with the declared flag changes made."""
    users = dict(host.users)
    for change in changes:
        user = users.get(change.user)
        if user is None or change.folder not in user.folders:
            continue
        folder, uids = user.folders[change.folder], set(change.uids)
        messages = [_flagged(m, change) if m.uid in uids else m for m in folder.messages]
        folders = {**user.folders, change.folder: folder.model_copy(update={"messages": messages})}
        users[change.user] = user.model_copy(update={"folders": folders})
    return host.model_copy(update={"users": users})


def _flagged(message: MessageState, change: FlagChange) -> MessageState:
    """The message after `change` (a system flag starts with a backslash, a keyword does not)."""
    def after(have: tuple[str, ...], system: bool) -> tuple[str, ...]:
        add, remove = ({f for f in flags if f.startswith("\\") == system} for flags in (change.add, change.remove))
        return tuple(sorted((set(have) | add) - remove))
    return replace(message, flags=after(message.flags, True), keywords=after(message.keywords, False))


def _without(host: HostState | None, message_ids: frozenset[str]) -> HostState | None:
    """A host's state minus the messages of `message_ids` (the cutover's traffic, which the
    ledger judges; mail that arrived during the migration)."""
    if host is None or not message_ids:
        return host
    return host.model_copy(update={"users": {address: _strip(user, message_ids)[0]
                                             for address, user in host.users.items()}})


def _strip(user: UserState, message_ids: set[str] | frozenset[str]) -> tuple[UserState, set[str]]:
    """The user's state without the messages of `message_ids`, and which of them were there."""
    seen: set[str] = set()
    in_inbox = 0
    folders = {}
    for name, folder in user.folders.items():
        kept = []
        for message in folder.messages:
            if message.message_id in message_ids:
                seen.add(message.message_id)
                in_inbox += name == "INBOX"
            else:
                kept.append(message)
        folders[name] = folder.model_copy(update={"messages": kept})
    # New mail gets the highest UIDs, and POP3 lists INBOX in UID order: arrivals are last.
    uidls = user.pop3_uidls[: len(user.pop3_uidls) - in_inbox]
    return user.model_copy(update={"folders": folders, "pop3_uidls": uidls}), seen


def _compare_user(old: UserState, new: UserState, unseen: set[str]) -> list[Finding]:
    user = old.address
    findings: list[Finding] = []

    def add(kind: str, mailbox: str | None = None, uid: int | None = None, detail: str = "") -> None:
        findings.append(Finding(kind=kind, user=user, mailbox=mailbox, uid=uid, detail=detail))

    if "folders" not in unseen:
        for name, old_folder in old.folders.items():
            new_folder = new.folders.get(name)
            if new_folder is None or (old_folder.selectable and not new_folder.selectable):
                if old_folder.selectable:
                    add("folder_missing", name, detail=f"{len(old_folder.messages)} messages in it")
                continue
            if old_folder.selectable:
                findings += [f.model_copy(update={"user": user}) for f in _compare_folder(old_folder, new_folder)]
        for name, new_folder in new.folders.items():
            if name not in old.folders and new_folder.selectable:
                add("folder_unexpected", name, detail=f"{len(new_folder.messages)} messages in it")
    if "subscriptions" not in unseen:
        for name in sorted(set(old.subscriptions) - set(new.subscriptions)):
            add("subscription_lost", name)
        for name in sorted(set(new.subscriptions) - set(old.subscriptions)):
            add("subscription_added", name)
    if "sieve" not in unseen:
        findings += [f.model_copy(update={"user": user}) for f in _compare_sieve(old.sieve, new.sieve)]
    if "uidls" not in unseen and old.pop3_uidls != new.pop3_uidls:
        differing = sum(1 for a, b in zip(old.pop3_uidls, new.pop3_uidls) if a != b)
        differing += abs(len(old.pop3_uidls) - len(new.pop3_uidls))
        first = next((i for i, (a, b) in enumerate(zip(old.pop3_uidls, new.pop3_uidls)) if a != b),
                     min(len(old.pop3_uidls), len(new.pop3_uidls)))
        add("uidl_changed", "INBOX",
            detail=f"{differing} of {len(old.pop3_uidls)} UIDLs differ, first at message {first + 1}")
    return findings


def _compare_folder(old: FolderState, new: FolderState) -> list[Finding]:
    findings: list[Finding] = []
    name = old.name

    def add(kind: str, uid: int | None = None, detail: str = "") -> None:
        findings.append(Finding(kind=kind, user="", mailbox=name, uid=uid, detail=detail))

    same_uid_space = old.uidvalidity == new.uidvalidity
    if not same_uid_space:
        add("uidvalidity_changed", detail=f"{old.uidvalidity} -> {new.uidvalidity}")
    elif (new.uidnext or 0) < (old.uidnext or 0):
        add("uidnext_lowered", detail=f"{old.uidnext} -> {new.uidnext}: UIDs will be reused")

    pairs, lost, extra = _pair_messages(old.messages, new.messages, same_uid_space)
    old_hashes = Counter(message.sha256 for message in old.messages)
    for message in lost:
        add("missing", message.uid, _describe(message))
    for message in extra:
        add("duplicate" if old_hashes[message.sha256] else "unexpected", message.uid, _describe(message))
    for before, after in pairs:
        if before.sha256 != after.sha256:
            add("content_changed", before.uid, f"sha256 {before.sha256[:12]} -> {after.sha256[:12]}")
        if same_uid_space and before.uid != after.uid:
            add("uid_changed", before.uid, f"UID {before.uid} -> {after.uid}")
        if before.flags != after.flags:
            add("flags_changed", before.uid, f"{' '.join(before.flags) or '-'} -> {' '.join(after.flags) or '-'}")
        if before.keywords != after.keywords:
            add("keywords_changed", before.uid,
                f"{' '.join(before.keywords) or '-'} -> {' '.join(after.keywords) or '-'}")
        if before.internaldate.timestamp() != after.internaldate.timestamp():
            add("date_changed", before.uid, f"{before.internaldate.isoformat()} -> {after.internaldate.isoformat()}")
        if before.guid is not None and before.guid != after.guid:
            add("guid_changed", before.uid, f"GUID {before.guid} -> {after.guid}")
    return findings


def _pair_messages(old: list[MessageState], new: list[MessageState], same_uid_space: bool):
    """Pair old and new messages: by content (the same UID first); then, within one UID
    space, by UID; then by Message-ID (a copy that altered the message).
    Returns (pairs, old unpaired, new unpaired)."""
    new_by_hash: dict[str, list[MessageState]] = defaultdict(list)
    for message in new:
        new_by_hash[message.sha256].append(message)
    pairs, unpaired_old = [], []
    for message in old:
        candidates = new_by_hash.get(message.sha256)
        if not candidates:
            unpaired_old.append(message)
            continue
        match = next((c for c in candidates if c.uid == message.uid), candidates[0])
        candidates.remove(match)
        pairs.append((message, match))
    unpaired_new = {m.uid: m for group in new_by_hash.values() for m in group}
    by_message_id = defaultdict(list)
    for message in sorted(unpaired_new.values(), key=lambda m: m.uid):
        if message.message_id:
            by_message_id[message.message_id].append(message)
    lost = []
    for message in unpaired_old:
        replacement = unpaired_new.get(message.uid) if same_uid_space else None
        if replacement is None and by_message_id.get(message.message_id):
            replacement = by_message_id[message.message_id][0]
        if replacement is None:
            lost.append(message)
            continue
        del unpaired_new[replacement.uid]
        if replacement in by_message_id.get(replacement.message_id, []):
            by_message_id[replacement.message_id].remove(replacement)
        pairs.append((message, replacement))
    extra = sorted(unpaired_new.values(), key=lambda m: m.uid)
    return pairs, lost, extra


def _describe(message: MessageState) -> str:
    return f"{message.message_id or 'no Message-ID'}, {message.size} bytes"


def _compare_sieve(old: SieveState, new: SieveState) -> list[Finding]:
    findings = []
    for name, digest in old.scripts.items():
        if name not in new.scripts:
            findings.append(Finding(kind="sieve_lost", user="", detail=f"script '{name}'"))
        elif new.scripts[name] != digest:
            findings.append(Finding(kind="sieve_changed", user="", detail=f"script '{name}'"))
    for name in sorted(set(new.scripts) - set(old.scripts)):
        findings.append(Finding(kind="sieve_unexpected", user="", detail=f"script '{name}'"))
    if old.active != new.active and (old.active is None or old.active in new.scripts):
        findings.append(Finding(kind="sieve_active_changed", user="",
                                detail=f"active script '{old.active}' -> '{new.active}'"))
    return findings


def _compare_user_db(old: dict[str, dict[str, dict]], new: dict[str, dict[str, dict]], users: set[str],
                     changes: list[DbChange]) -> list[Finding]:
    """Row by row; a column the scenario declares changed (`expect.db_changes`) must hold the
    declared value on new instead of old's."""
    findings = []
    for table, rows in old.items():
        new_rows = new.get(table, {})
        declared = {change.column: change.value for change in changes if change.table == table}
        for key, row in rows.items():
            who = _row_owner(row, users)
            if key not in new_rows:
                findings.append(Finding(kind="db_row_missing", user=who, mailbox=table, detail=f"row {key}"))
                continue
            wanted = {column: declared.get(column, value) for column, value in row.items()}
            differ = [f"{column} is {new_rows[key].get(column)!r}, expected {value!r}"
                      for column, value in wanted.items() if new_rows[key].get(column) != value]
            if differ:
                findings.append(Finding(kind="db_row_changed", user=who, mailbox=table,
                                        detail=f"row {key}: " + "; ".join(differ)))
        for key in sorted(set(new_rows) - set(rows)):
            findings.append(Finding(kind="db_row_unexpected", user=_row_owner(new_rows[key], users), mailbox=table,
                                    detail=f"row {key}"))
    return findings


def _row_owner(row: dict[str, str | None], users: set[str]) -> str:
    """The user a row belongs to: a scenario user named in it, else any address in it."""
    cells = list(row.values())
    return next((cell for cell in cells if cell in users), None) or \
        next((cell for cell in cells if cell and "@" in cell), "-")
