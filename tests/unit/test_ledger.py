"""The cutover ledger: one fate per sent message, from what the sender logged, what it still
queues and what each server holds. A case is data: (what happened, expected fate)."""

from __future__ import annotations

from collections import Counter

import pytest

from maillab.runner.rehearsal.ledger import FATES, Attempt, Sent, account, timeline

SENT = Sent("<m1@lab>", "alice@example.org", at=1.0)
ENDED = 60.0

# case id -> (attempts, queued, copies on new, where old holds it, fate, delay)
CASES = {
    "straight to new": ([Attempt("<m1@lab>", 3.0, "sent", "new")], {}, 1, None, "delivered", 2.0),
    "to old, then synced": ([Attempt("<m1@lab>", 2.0, "sent", "old")], {}, 1, "INBOX", "delivered", 1.0),
    "deferred, then new": ([Attempt("<m1@lab>", 2.0, "deferred", None, "Host not found"),
                            Attempt("<m1@lab>", 9.5, "sent", "new")], {}, 1, None, "delivered", 8.5),
    "still queued": ([Attempt("<m1@lab>", 2.0, "deferred", "new", "450 4.7.1 soft_bounce")],
                     {"<m1@lab>": 1.5}, 0, None, "delayed", 58.5),
    "rejected for good": ([Attempt("<m1@lab>", 2.0, "bounced", "new", "550 5.1.1 User unknown")],
                          {}, 0, None, "bounced", None),
    "to old after the last sync": ([Attempt("<m1@lab>", 40.0, "sent", "old")], {}, 0, "INBOX", "stranded", 39.0),
    "in old's queue": ([Attempt("<m1@lab>", 30.0, "sent", "old")], {}, 0, "queue", "stranded", 29.0),
    "twice on new": ([Attempt("<m1@lab>", 2.0, "sent", "old"), Attempt("<m1@lab>", 3.0, "sent", "new")],
                     {}, 2, "INBOX", "duplicated", 2.0),
    "accepted, then gone": ([Attempt("<m1@lab>", 2.0, "sent", "new")], {}, 0, None, "missing", 1.0),
    "never tried": ([], {}, 0, None, "missing", None),
}


@pytest.mark.parametrize("case", CASES)
def test_each_message_gets_its_one_fate(case):
    attempts, queued, copies, on_old, fate, delay = CASES[case]
    ledger = account([SENT], attempts, queued, Counter({SENT.message_id: copies}),
                     {SENT.message_id: on_old} if on_old else {}, ENDED)
    [entry] = ledger.entries
    assert (entry.fate, entry.delay_s) == (fate, delay), entry.detail
    assert ledger.counts[fate] == 1 and sum(ledger.counts.values()) == 1
    assert len(ledger.lost) == (fate in ("bounced", "stranded", "missing"))


def test_the_table_covers_every_fate():
    assert {case[4] for case in CASES.values()} == set(FATES)


def test_the_summary_names_every_message_not_delivered():
    sent = [Sent(f"<m{n}@lab>", "bob@example.org", at=n) for n in range(4)]
    attempts = [Attempt("<m0@lab>", 1.0, "sent", "new"), Attempt("<m1@lab>", 5.0, "sent", "old"),
                Attempt("<m2@lab>", 2.5, "bounced", "new", "550 no such user")]
    summary = account(sent, attempts, {}, Counter({"<m0@lab>": 1}), {"<m1@lab>": "INBOX"}, ENDED).summary()
    assert (summary["sent"], summary["delivered"], summary["lost"], summary["max_delay_s"]) == (4, 1, 3, 4.0)
    assert [(m["message_id"], m["fate"]) for m in summary["not_delivered"]] == [
        ("<m1@lab>", "stranded"), ("<m2@lab>", "bounced"), ("<m3@lab>", "missing")]


def test_the_timeline_counts_per_second_what_was_sent_delivered_and_queued():
    sent = [Sent("<a@lab>", "u", 0.2), Sent("<b@lab>", "u", 0.7), Sent("<c@lab>", "u", 1.1)]
    attempts = [Attempt("<a@lab>", 0.9, "sent", "old"), Attempt("<b@lab>", 1.5, "deferred", None),
                Attempt("<b@lab>", 2.2, "sent", "new"), Attempt("<c@lab>", 2.4, "bounced", "new")]
    rows = timeline(sent, attempts, ended_at=3.0)
    assert [(r["sent"], r["delivered_old"], r["delivered_new"], r["bounced"], r["queued"]) for r in rows] == [
        (2, 1, 0, 0, 1),  # a and b sent, a accepted by old within the second
        (1, 0, 0, 0, 2),  # b deferred, c sent
        (0, 0, 1, 1, 0),
        (0, 0, 0, 0, 0),
    ]


def test_a_duplicate_after_a_session_cut_at_the_end_of_data_quotes_the_sender():
    cut = "lost connection with old[172.18.0.2] while sending end of data -- message may be sent more than once"
    attempts = [Attempt("<m1@lab>", 2.0, "deferred", "old", cut), Attempt("<m1@lab>", 9.0, "sent", "new")]
    [entry] = account([SENT], attempts, {}, Counter({SENT.message_id: 2}), {SENT.message_id: "INBOX"}, ENDED).entries
    assert entry.fate == "duplicated"
    assert entry.detail == f"2 copies in INBOX on new; the sender, after trying old: {cut}"
