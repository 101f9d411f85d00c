"""Finished rehearsals for the HTML report's tests, judged by the real verifier from states.py's
snapshot with a second user: one that passes (a tolerated finding), one that fails (findings
of several classes for both users, a failed step, scenario text that looks like HTML), and a
live cutover with its ledger and timeline. No Docker."""

from __future__ import annotations

from collections import Counter

from maillab.runner.methods.context import Event
from maillab.runner.methods.context import StepResult
from maillab.runner.rehearsal.compare import judge
from maillab.runner.rehearsal.ledger import Attempt, Sent, account
from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.rehearsal.state import Evidence, HostState
from maillab.runner.rehearsal.traffic import CutoverRecord
from maillab.runner.schema.scenario import Scenario

from .states import USER, archive, inbox, state, user

OTHER = "b@example.org"
SCENARIO = Scenario.model_validate({
    "name": "html", "description": "a report in a browser",
    "hosts": {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}},
    "users": [{"address": USER}, {"address": OTHER}], "steps": [{"method": "doveadm_backup"}],
    "expect": {"lost": ["guids"]},
})
STEP = StepResult(step="doveadm backup -R -A (on new)", host="new", command="doveadm backup -R -A tcp:old:12345",
                  exit_code=0, meaning="success", ok=True, seconds=1.5, output="dsync: done\n")
HOSTILE = "<script>document.title='run'</script>"  # scenario text: must show as text
FAILED_STEP = StepResult(step=f"my script {HOSTILE}", host="new", command="/root/migrate.sh", exit_code=75,
                         meaning="temporary failure", ok=False, seconds=0.4, output=f"{HOSTILE}\nerror: try again\n",
                         first_error="error: try again")
TIMINGS = {"create": 4.1, "seed": 2.3, "converge": 1.9, "verify": 0.7}


def two_users() -> HostState:
    host = state()
    host.users[OTHER] = user(host).model_copy(deep=True, update={"address": OTHER})
    return host


def finished(break_new, steps: list[StepResult], **more) -> Rehearsal:
    baseline, old, new = two_users(), two_users(), two_users()
    break_new(new)
    result = Rehearsal(scenario=SCENARIO, lab_id="mlhtml", baseline=baseline, old=old, new=new, converged=new,
                       steps=steps, timings=dict(TIMINGS), **more)
    result.findings = judge(Evidence(baseline=baseline, old=old, new=new, converged=new), SCENARIO.expect)
    return result


def passing() -> Rehearsal:
    """A new GUID for one message: a declared loss, tolerated."""
    return finished(lambda s: setattr(inbox(s).messages[0], "guid", "other"), [STEP])


def broken(s: HostState) -> None:
    inbox(s).messages.pop(1)  # missing, for USER
    archive(s).uidvalidity = 999  # uidvalidity_changed, for USER
    other = s.users[OTHER]
    other.folders["INBOX"].messages[0].flags = ()  # flags_changed, for OTHER
    other.pop3_uidls = ["x", "y", "z"]  # uidl_changed, for OTHER


def failing() -> Rehearsal:
    return finished(broken, [STEP, FAILED_STEP])


def cutover() -> Rehearsal:
    """A live cutover: three messages sent, the first to old (and synced), the others to new."""
    sent = [Sent(f"<m{n}@lab>", USER, at=float(n)) for n in range(3)]
    attempts = [Attempt("<m0@lab>", 0.5, "sent", "old"), Attempt("<m1@lab>", 1.5, "sent", "new"),
                Attempt("<m2@lab>", 2.5, "sent", "new")]
    ledger = account(sent, attempts, {}, Counter(sent.message_id for sent in sent), {"<m0@lab>": "INBOX"}, 6.0)
    record = CutoverRecord(sent=sent, log="", queue=[], events=[Event(1.0, "MX switched")], ended_at=6.0,
                           old_queue=set(), attempts=attempts)
    return finished(lambda s: None, [STEP], cutover=record, ledger=ledger)
