"""An exercise's grade (`maillab exercise check`), read from a judged Rehearsal as the report
reads it (report.check_rows, report.redownload): what held, what was lost, whether clients
would download mail again, and a score out of 100.

The score weighs each property the rehearsal could judge: 100 when every one held (or was
lost as the scenario declares), less by the weight of each that was lost. Losing mail or
damaging the source costs most; what makes clients download everything again comes next.
It is then scaled by the share of old's messages that are on new: the judge names a folder
missing on new once, not each message in it, and a lab where nothing was migrated yet must
not score well for the properties an empty server cannot break.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..rehearsal.phases import Rehearsal
from .checks import check_rows, messages_per_user, redownload

# Property -> its weight in the score; any other property weighs 1.
WEIGHTS = {"source": 4, "messages": 4, "content": 3, "folders": 2, "delivery": 2, "services": 2, "logins": 2,
           "uids": 2, "uidvalidity": 2, "pop3_uidls": 2}


@dataclass(frozen=True)
class Loss:
    property: str
    findings: int
    example: str  # the first finding, as the report's one line


@dataclass(frozen=True)
class Grade:
    messages: tuple[int, int]  # old's messages (before), and how many of them new has
    held: list[str]  # held, or lost as the scenario declares
    lost: list[Loss]
    unchecked: list[str]  # "property: why"
    imap_redownload: list[str]  # "user folder: reason"
    pop3_redownload: list[str]  # "user: reason"
    score: int
    passed: bool

    def lines(self) -> list[str]:
        lines = [f"grade: {self.score}/100 ({'passed' if self.passed else 'not yet'})",
                 f"  messages on new: {self.messages[1]} of old's {self.messages[0]}",
                 f"  held: {', '.join(self.held) or 'nothing'}"]
        for loss in self.lost:
            found = f"{loss.findings} finding{'' if loss.findings == 1 else 's'}"
            lines.append(f"  LOST: {loss.property} ({found}; first: {loss.example})")
        if not self.imap_redownload and not self.pop3_redownload:
            lines.append("  clients re-download: no")
        lines += [f"  IMAP clients re-download: {where}" for where in self.imap_redownload]
        lines += [f"  POP3 clients re-download: {where}" for where in self.pop3_redownload]
        lines += [f"  not checked: {why}" for why in self.unchecked]
        return lines


def grade(rehearsal: Rehearsal) -> Grade:
    """The grade of a judged rehearsal (one that finished: no lab error)."""
    held, lost, unchecked = [], [], []
    for prop, status, findings in check_rows(rehearsal):
        if status in ("held", "tolerated loss"):
            held.append(prop)
        elif status == "LOST":
            broken = [finding for finding in findings if not finding.tolerated]
            lost.append(Loss(prop, len(broken), broken[0].one_line()))
        else:
            unchecked.append(f"{prop}: {status.removeprefix('not checked: ')}")
    judged = sum(WEIGHTS.get(prop, 1) for prop in held) + sum(WEIGHTS.get(loss.property, 1) for loss in lost)
    kept = sum(WEIGHTS.get(prop, 1) for prop in held)
    counts = messages_per_user(rehearsal).values()
    before = sum(count["old"] for count in counts)
    arrived = sum(max(0, min(count["new"] or 0, count["old"])) for count in counts)  # duplicates add nothing
    share = arrived / before if before else 1
    again = redownload(rehearsal)
    return Grade(messages=(before, arrived), held=held, lost=lost, unchecked=unchecked,
                 imap_redownload=[f"{entry['user']} {entry['mailbox']}: {entry['reason']}" for entry in again["imap"]],
                 pop3_redownload=[f"{entry['user']}: {entry['reason']}" for entry in again["pop3"]],
                 score=round(100 * share * kept / judged) if judged else 0, passed=rehearsal.passed)
