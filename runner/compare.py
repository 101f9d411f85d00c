"""The comparison: a pure function of two snapshots plus the expectations.

It pairs messages per folder by content (sha256), preferring the same UID, so it sees what a
client would: a message that kept its content but changed its UID, one that vanished, one that
appeared twice. Each difference is a `Finding` with a class; a class belongs to one property,
and a finding on a property the scenario does not require is reported as tolerated.
"""

from __future__ import annotations

from collections import defaultdict
from pydantic import BaseModel, ConfigDict, Field

from runner.scenario import DbChange, Expectations
from runner.state import Arrival, FolderState, HostState, MessageState, SieveState, UserState

# Finding class -> the property it breaks.
FINDING_PROPERTY = {
    "folder_missing": "folders",
    "folder_unexpected": "folders",
    "missing": "messages",
    "duplicate": "messages",
    "unexpected": "messages",
    "content_changed": "content",
    "flags_changed": "flags",
    "keywords_changed": "keywords",
    "date_changed": "dates",
    "guid_changed": "guids",
    "uid_changed": "uids",
    "uidnext_lowered": "uids",
    "uidvalidity_changed": "uidvalidity",
    "subscription_lost": "subscriptions",
    "subscription_added": "subscriptions",
    "sieve_lost": "sieve",
    "sieve_changed": "sieve",
    "sieve_unexpected": "sieve",
    "sieve_active_changed": "sieve",
    "uidl_changed": "pop3_uidls",
    "db_row_missing": "db_rows",
    "db_row_changed": "db_rows",
    "db_row_unexpected": "db_rows",
    "delivery_failed": "delivery",
}


class Finding(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: str = Field(alias="class")
    user: str
    mailbox: str | None = None
    uid: int | None = None
    detail: str = ""
    tolerated: bool = False

    @property
    def property(self) -> str:
        return FINDING_PROPERTY[self.kind]


def compare(old: HostState, new: HostState, expect: Expectations, arrivals: list[Arrival] = ()) -> list[Finding]:
    findings: list[Finding] = []
    for address, old_user in old.users.items():
        new_user = new.users.get(address) or UserState(
            address=address, folders={}, subscriptions=[], sieve=SieveState(), pop3_uidls=[]
        )
        expected_here = {a.message_id for a in arrivals if a.user == address}
        findings += _compare_user(old_user, _without_arrivals(new_user, expected_here, findings))
    findings += _compare_user_db(old.user_db, new.user_db, set(old.users), expect.db_changes)
    for finding in findings:
        finding.tolerated = not expect.must_preserve(finding.property)
    return findings


def _without_arrivals(user: UserState, message_ids: set[str], findings: list[Finding]) -> UserState:
    """The user's state minus the expected arrivals; a missing arrival is a finding."""
    if not message_ids:
        return user
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
    for message_id in sorted(message_ids - seen):
        findings.append(Finding(kind="delivery_failed", user=user.address, mailbox="INBOX",
                                detail=f"{message_id} was sent but never arrived"))
    # New mail gets the highest UIDs, and POP3 lists INBOX in UID order: arrivals are last.
    uidls = user.pop3_uidls[: len(user.pop3_uidls) - in_inbox]
    return user.model_copy(update={"folders": folders, "pop3_uidls": uidls})


def _compare_user(old: UserState, new: UserState) -> list[Finding]:
    user = old.address
    findings: list[Finding] = []

    def add(kind: str, mailbox: str | None = None, uid: int | None = None, detail: str = "") -> None:
        findings.append(Finding(kind=kind, user=user, mailbox=mailbox, uid=uid, detail=detail))

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

    for name in sorted(set(old.subscriptions) - set(new.subscriptions)):
        add("subscription_lost", name)
    for name in sorted(set(new.subscriptions) - set(old.subscriptions)):
        add("subscription_added", name)

    findings += [f.model_copy(update={"user": user}) for f in _compare_sieve(old.sieve, new.sieve)]

    if old.pop3_uidls != new.pop3_uidls:
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
    old_hashes = defaultdict(int)
    for message in old.messages:
        old_hashes[message.sha256] += 1
    for message in lost:
        add("missing", message.uid, _describe(message))
    for message in extra:
        kind = "duplicate" if old_hashes[message.sha256] else "unexpected"
        add(kind, message.uid, _describe(message))
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
