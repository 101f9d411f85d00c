"""What every report says, read from a finished Rehearsal: each property's check (held, LOST,
tolerated loss, not checked), the messages per user, the copies on new, and the admin's real
question answered: would IMAP or POP3 clients download mail again after this migration, and
for which users and folders? Also the interrupt sweep's rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ..rehearsal.compare import SERVES, archived_on_gmail, stored_copies
from ..rehearsal.phases import Rehearsal
from ..rehearsal.state import UserState
from ..rehearsal.sweep import Sweep
from ..schema.findings import Finding
from ..schema.vocabulary import PROPERTIES, SERVER_LACKS

# Which snapshot part each property is read from (compare.SERVES says which service serves it).
PROPERTY_PART = {"folders": "folders", "messages": "folders", "content": "folders", "flags": "folders",
                 "keywords": "folders", "dates": "folders", "guids": "folders", "uids": "folders",
                 "uidvalidity": "folders", "subscriptions": "subscriptions", "sieve": "sieve",
                 "pop3_uidls": "uidls", "db_rows": "db_rows"}


# What the lab did to an admin's own configuration on a host, as report.json's own_config lists
# it (lab/containers.py's OwnConfig.report), in the order the reports show it.
OWN_CONFIG_KINDS = ("added", "changed", "made", "refused")


def redownload(rehearsal: Rehearsal) -> dict[str, list[dict[str, object]]]:
    """Where clients would re-download: IMAP per user and folder, POP3 per user."""
    old_sizes = {
        (user.address, name): len(folder.messages)
        for user in (rehearsal.baseline.users.values() if rehearsal.baseline else [])
        for name, folder in user.folders.items()
    }
    imap: dict[tuple[str, str], dict[str, object]] = {}
    changed_uids: Counter[tuple[str, str]] = Counter()
    pop3 = []
    for finding in rehearsal.findings:
        key = (finding.user, finding.mailbox or "")
        if finding.kind == "uidvalidity_changed":
            imap[key] = {"user": finding.user, "mailbox": finding.mailbox, "messages": old_sizes.get(key, 0),
                         "reason": f"UIDVALIDITY changed ({finding.detail}): clients drop their cache"}
        elif finding.kind == "uid_changed":
            changed_uids[key] += 1
        elif finding.kind == "uidl_changed":
            pop3.append({"user": finding.user, "reason": f"POP3 UIDLs changed: {finding.detail}"})
    for key, count in changed_uids.items():
        imap.setdefault(key, {"user": key[0], "mailbox": key[1], "messages": count,
                              "reason": f"{count} messages got new UIDs: clients fetch them as new mail"})
    return {"imap": sorted(imap.values(), key=lambda e: (e["user"], e["mailbox"])), "pop3": pop3}


def road(rehearsal: Rehearsal) -> str:
    """Which road the rehearsal took: a migration onto new, or old upgraded in place."""
    hosts = rehearsal.scenario.hosts
    if rehearsal.scenario.in_place:
        return f"in place: old upgraded from {hosts['old'].suite} to {rehearsal.scenario.upgrades['old']}"
    return f"old ({hosts['old'].suite}) -> new ({hosts['new'].suite})"


def compared(rehearsal: Rehearsal) -> str:
    """What the checks compare, for their title."""
    return "old before -> old after the upgrade, in place" if rehearsal.scenario.in_place else "old -> new"


def stored_messages(user: UserState, once: bool, leaving_out: frozenset[str] = frozenset()) -> int:
    """The user's messages, but those of `leaving_out` (Message-IDs); `once`: each message once
    whatever folders show it (Gmail's labels and views), by its GUID."""
    messages = [message for folder in user.folders.values() for message in folder.messages
                if message.message_id not in leaving_out]
    return len({message.guid or message.sha256 for message in messages}) if once else len(messages)


def shown_once(rehearsal: Rehearsal, role: str) -> bool:
    """Whether the host shows one message in several folders (Gmail: labels, All Mail)."""
    return rehearsal.scenario.hosts[role].server == "gmail"


def messages_per_user(rehearsal: Rehearsal) -> dict[str, dict[str, int | None]]:
    """Each user's message count on old and new, without the expected arrivals on either side
    (on Gmail each message once). Old is the reference the verdict compares with
    (compare.judge): old before the migration, or old at its end when the steps are meant to
    change it (cutover mail)."""
    reference = rehearsal.old if rehearsal.scenario.changes_old and rehearsal.old else rehearsal.baseline
    old = reference.users if reference else {}
    new = rehearsal.new.users if rehearsal.new else {}
    arrived = frozenset(arrival.message_id for arrival in rehearsal.arrivals)
    return {address: {"old": stored_messages(user, shown_once(rehearsal, "old"), arrived),
                      "new": stored_messages(new[address], False, arrived) if address in new else None}
            for address, user in old.items()}


def archived_mail(rehearsal: Rehearsal) -> dict[str, dict[str, int]]:
    """Per Gmail user with archived mail (only in All Mail): how much, and how much reached new's
    All Mail."""
    if rehearsal.scenario.hosts["old"].server != "gmail" or rehearsal.baseline is None or rehearsal.new is None:
        return {}
    return {address: {"archived": archived, "on_new": arrived}
            for address, (archived, arrived) in archived_on_gmail(rehearsal.baseline, rehearsal.new).items()}


def copies_on_new(rehearsal: Rehearsal) -> dict[str, dict[str, object]]:
    """Per user: the messages new stores more than once (Gmail's labels become copies, and
    each copy counts against the quota), with what they take of the user's quota."""
    if rehearsal.new is None:
        return {}
    quotas = {user.address: user.quota for user in rehearsal.scenario.users}
    return {address: {"messages": found.messages, "copies": found.copies, "copy_bytes": found.copy_bytes,
                      "stored_bytes": found.stored_bytes, "quota": found.quota, "quota_share": found.quota_share,
                      "folders": found.folders}
            for address, found in stored_copies(rehearsal.new, quotas).items()}


def not_checked(rehearsal: Rehearsal) -> dict[str, str]:
    """Properties the rehearsal could not judge, and why."""
    reasons = {}
    expect, new = rehearsal.scenario.expect, rehearsal.new
    if rehearsal.converged is None:
        reasons["idempotence"] = "the steps did not run twice"
    if rehearsal.scenario.in_place:
        reasons["source"] = "in place: no source is left beside the host upgraded"
    reasons |= SERVER_LACKS.get(rehearsal.scenario.hosts["old"].server, {})  # what old's server does not have
    if not expect.smoke_delivery and not rehearsal.arrivals and not rehearsal.ledger:
        reasons["delivery"] = "no mail was sent to new"
    if new and new.users and all(user.login_error for user in new.users.values()) and not rehearsal.arrivals:
        reasons["delivery"] = "no user can log in on new to see the smoke message"
    if not rehearsal.tls:
        reasons["tls"] = "no live cutover: the lab serves no TLS"
    # a service old did not answer in the baseline left nothing to compare with, either
    for role, state in (("old", rehearsal.baseline), (rehearsal.scenario.target, new)):
        for service in state.unanswered if state else {}:
            for prop, part in PROPERTY_PART.items():
                if part in SERVES.get(service, ()):
                    reasons[prop] = f"{role} does not answer {service}"
    return reasons


def check_rows(rehearsal: Rehearsal) -> list[tuple[str, str, list[Finding]]]:
    """(property, status, findings) for every property: held, LOST, tolerated loss, not checked."""
    by_property: dict[str, list[Finding]] = defaultdict(list)
    for finding in rehearsal.findings:
        by_property[finding.property].append(finding)
    unjudged = not_checked(rehearsal)
    rows = []
    for prop in PROPERTIES:
        found = by_property.get(prop, [])
        if found:
            status = "tolerated loss" if all(f.tolerated for f in found) else "LOST"
        else:
            status = f"not checked: {unjudged[prop]}" if prop in unjudged else "held"
        rows.append((prop, status, found))
    return rows


def sweep_rows(sweep: Sweep) -> list[dict[str, object]]:
    """The interrupt sweep's table: where each point struck and what became of the run."""
    return [{"point": n, "at_s": point.at, "step": point.step,
             "step_name": point.rehearsal.scenario.steps[point.step - 1].describe(),
             "interrupted_exit": point.interrupted_exit, "resumed": point.what_resumed,
             "findings": point.findings, "converged": point.converged,
             "faults": [strike.one_line() for strike in point.rehearsal.strikes]}
            for n, point in enumerate(sweep.points, 1)]
