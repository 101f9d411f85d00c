"""An exercise's grade, from finished rehearsals built by hand (as test_report's): what held,
what was lost, the re-download answer and the score. No Docker."""

from maillab.runner.rehearsal.compare import judge
from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.rehearsal.state import Evidence
from maillab.runner.reports.grade import grade
from maillab.runner.schema.scenario import Scenario
from maillab.runner.schema.steps import SendMail

from .states import USER, archive, inbox, message, state, user

SCENARIO = Scenario.model_validate({
    "name": "unit", "description": "an exercise", "hosts": {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}},
    "users": [{"address": USER}], "steps": [{"method": "script", "path": "solution.sh"}],
})
# every property but tls (no live cutover) and idempotence (no rerun), weighted as
# runner/reports/grade.py says: 4 source, messages; 3 content; 2 folders, delivery, services, logins,
# uids, uidvalidity, pop3_uidls; 1 the other seven
JUDGED_WEIGHT = 4 * 2 + 3 + 2 * 7 + 7


def judged(break_new=lambda s: None, break_old=lambda s: None, lost=()) -> Rehearsal:
    """A kept lab checked after the trainee's work: no idempotence rerun (converged is None)."""
    scenario = SCENARIO.model_copy(update={"expect": SCENARIO.expect.model_copy(update={"lost": list(lost)})})
    baseline, old, new = state(), state(), state()
    break_new(new)
    break_old(old)
    result = Rehearsal(scenario=scenario, lab_id="mltest", baseline=baseline, old=old, new=new)
    result.findings = judge(Evidence(baseline=baseline, old=old, new=new), scenario.expect)
    return result


def test_everything_held_scores_100_and_nobody_redownloads():
    result = grade(judged())
    assert (result.score, result.passed, result.lost, result.messages) == (100, True, [], (5, 5))
    assert {"messages", "uids", "pop3_uidls", "source"} <= set(result.held)
    assert result.unchecked == ["idempotence: the steps did not run twice", "tls: no live cutover: the lab serves no TLS"]
    assert "  clients re-download: no" in result.lines()


def test_mail_lost_on_new_and_old_costs_most():
    def emptied(s):
        inbox(s).messages = []

    result = grade(judged(emptied, emptied))
    assert [(loss.property, loss.findings) for loss in result.lost] == [("source", 1), ("messages", 3)]
    assert result.lost[1].example.startswith(f"missing {USER} INBOX UID 1")
    assert result.messages == (5, 2)  # the Archive's two are left
    assert result.score == round(100 * 2 / 5 * (JUDGED_WEIGHT - 8) / JUDGED_WEIGHT) == 30
    assert not result.passed
    assert result.lines()[:2] == ["grade: 30/100 (not yet)", "  messages on new: 2 of old's 5"]


def test_a_lab_where_nothing_was_migrated_yet_scores_0():
    def empty(s):
        s.users.clear()

    result = grade(judged(empty))
    assert (result.score, result.messages, result.passed) == (0, (5, 0), False)
    assert "source" in result.held  # what an empty server cannot break still held


def test_renumbered_folders_and_uidls_say_which_clients_redownload():
    def renumbered(s):
        archive(s).uidvalidity = 999
        user(s).pop3_uidls = ["x", "y", "z"]

    result = grade(judged(renumbered))
    assert [loss.property for loss in result.lost] == ["uidvalidity", "pop3_uidls"]
    assert result.imap_redownload == [f"{USER} Archive: UIDVALIDITY changed (101 -> 999): clients drop their cache"]
    assert [line.split(":")[0] for line in result.pop3_redownload] == [USER]
    assert result.score == round(100 * (JUDGED_WEIGHT - 4) / JUDGED_WEIGHT)


def test_a_declared_loss_counts_as_held():
    def renumbered(s):
        user(s).pop3_uidls = ["x", "y", "z"]

    result = grade(judged(renumbered, lost=["pop3_uidls"]))
    assert (result.score, result.passed, result.lost) == (100, True, [])
    assert "pop3_uidls" in result.held
    assert result.pop3_redownload  # declared, and still true: the trainee is told


def test_mail_that_reached_old_during_the_migration_counts_as_old_s():
    """With steps meant to change old (mail sent there), old at the end is what new must hold,
    as the verdict judges it: a message that reached old and not new is one of old's missing."""
    scenario = SCENARIO.model_copy(update={"steps": [*SCENARIO.steps, SendMail(method="send_mail", to="old")]})
    baseline, old, new = state(), state(), state()
    inbox(old).messages.append(message(4, "d"))
    result = Rehearsal(scenario=scenario, lab_id="mltest", baseline=baseline, old=old, new=new)
    result.findings = judge(Evidence(baseline=baseline, old=old, new=new, old_changes_declared=True), scenario.expect)
    assert grade(result).messages == (6, 5)
