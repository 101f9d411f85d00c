"""The ledger of a live cutover: every message the traffic source sent, and its one fate.

A pure function of what was sent, what the sending MTA's log says happened to each message,
what its queue still holds, and which Message-IDs each server's INBOX holds at the end. It
imports no Docker. Fates (seed 003: "If you proceed careful though not a single email will be
lost"):
- delivered: exactly once in the user's INBOX on new (straight to new, or to old before the
  final sync carried it over);
- delayed: still in the sender's queue when the run ended (not lost yet: it will be retried);
- bounced: the sender got a permanent failure (lost from the user's point of view);
- stranded: on old but not on new (it reached old after the last sync, or sits in old's
  Postfix queue);
- duplicated: more than once on new;
- missing: none of the above.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, get_args

Fate = Literal["delivered", "delayed", "bounced", "stranded", "duplicated", "missing"]
FATES: tuple[Fate, ...] = get_args(Fate)
LOST_FATES: tuple[Fate, ...] = ("bounced", "stranded", "missing")
Status = Literal["sent", "deferred", "bounced"]  # what the sender's log says of one attempt


@dataclass(frozen=True)
class Sent:
    """One message the traffic source handed to the sender, `at` seconds into the run."""

    message_id: str
    user: str
    at: float


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt in the sender's log: to which lab host (None when no host was
    reached, e.g. a DNS failure), with what status and the log's reason."""

    message_id: str
    at: float
    status: Status
    host: str | None
    detail: str = ""


@dataclass(frozen=True)
class Entry:
    message_id: str
    user: str
    fate: Fate
    delay_s: float | None  # from sending to the last accepted delivery (or to the end, when delayed)
    detail: str


@dataclass(frozen=True)
class Ledger:
    entries: tuple[Entry, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.fate in LOST_FATES)

    @property
    def max_delay_s(self) -> float:
        return max((e.delay_s for e in self.entries if e.delay_s is not None), default=0.0)

    def summary(self) -> dict[str, object]:
        """The ledger as report.json shows it: counts, the worst delay, every message not
        delivered with its fate."""
        return {"sent": len(self.entries), **self.counts, "lost": len(self.lost),
                "max_delay_s": round(self.max_delay_s, 1),
                "not_delivered": [{"message_id": e.message_id, "user": e.user, "fate": e.fate, "detail": e.detail}
                                  for e in self.entries if e.fate != "delivered"]}


def account(sent: list[Sent], attempts: list[Attempt], queued: dict[str, float], on_new: Counter[str],
            on_old: dict[str, str], ended_at: float) -> Ledger:
    """One fate per sent message. `queued`: Message-ID -> when it entered the sender's queue,
    for what is still there; `on_new`: how often each Message-ID is in its user's INBOX on new;
    `on_old`: Message-ID -> where old holds it ("INBOX", or "queue": old's Postfix accepted it
    and could not deliver it, e.g. with Dovecot stopped)."""
    by_message: dict[str, list[Attempt]] = {}
    for attempt in sorted(attempts, key=lambda a: a.at):
        by_message.setdefault(attempt.message_id, []).append(attempt)
    entries = []
    for message in sent:
        tried = by_message.get(message.message_id, [])
        accepted = [a for a in tried if a.status == "sent"]
        delay = round(accepted[-1].at - message.at, 3) if accepted else None
        copies = on_new[message.message_id]
        if copies == 1:
            fate, detail = "delivered", f"via {accepted[-1].host}" if accepted else "on new"
        elif copies > 1:
            fate, detail = "duplicated", f"{copies} copies in INBOX on new"
            # an SMTP session cut after the server queued the message but before its 250
            # reached the sender (RFC 1047): Postfix says "message may be sent more than once"
            if cut := [a for a in tried if "more than once" in a.detail]:
                detail += f"; the sender, after trying {cut[-1].host or 'a host'}: {cut[-1].detail}"
        elif message.message_id in queued:
            fate, delay = "delayed", round(ended_at - queued[message.message_id], 3)
            last = tried[-1].detail if tried else "never tried"
            detail = f"still queued at the sender after {delay:.0f} s ({last})"
        elif bounced := [a for a in tried if a.status == "bounced"]:
            fate, detail = "bounced", f"bounced by {bounced[-1].host or 'the sender'}: {bounced[-1].detail}"
        elif message.message_id in on_old:
            when = f" at {accepted[-1].at:.1f} s" if accepted else ""
            fate, detail = "stranded", (f"accepted by old{when}, still in old's Postfix queue: on no server users read"
                                        if on_old[message.message_id] == "queue" else
                                        f"delivered to old{when}, after the last sync: on no server users read")
        else:
            fate, detail = "missing", (f"accepted by {accepted[-1].host} at {accepted[-1].at:.1f} s, found nowhere"
                                       if accepted else "no delivery in the sender's log, found nowhere")
        entries.append(Entry(message.message_id, message.user, fate, delay, detail))
    counts = Counter(entry.fate for entry in entries)
    return Ledger(tuple(entries), {fate: counts[fate] for fate in FATES})


def timeline(sent: list[Sent], attempts: list[Attempt], ended_at: float) -> list[dict[str, int]]:
    """Per second of the run: messages sent, deliveries accepted by old and by new, and how many
    sent messages were in the sender's queue (sent, neither accepted nor bounced yet)."""
    seconds = int(ended_at) + 1
    rows = [{"second": s, "sent": 0, "delivered_old": 0, "delivered_new": 0, "bounced": 0, "queued": 0}
            for s in range(seconds)]
    settled: dict[str, float] = {}
    for attempt in sorted(attempts, key=lambda a: a.at):
        if attempt.status in ("sent", "bounced") and attempt.message_id not in settled:
            settled[attempt.message_id] = attempt.at
            second = min(int(attempt.at), seconds - 1)
            if attempt.status == "bounced":
                rows[second]["bounced"] += 1
            elif attempt.host in ("old", "new"):
                rows[second][f"delivered_{attempt.host}"] += 1
    for message in sent:
        rows[min(int(message.at), seconds - 1)]["sent"] += 1
        done = settled.get(message.message_id, ended_at + 1)
        for second in range(int(message.at), min(int(done), seconds)):
            rows[second]["queued"] += 1
    return rows
