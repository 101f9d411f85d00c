"""The report on disk: report.json and the snapshots' files, then from report.json's data
junit.xml, the cutover's timeline.png and report.html; for an interrupt sweep, sweep.json and
each run's reports.

A rehearsal that could not finish (a lab error, a signal) still gets its files, with verdict
`error`, so CI shows what happened.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..rehearsal.ledger import timeline
from ..rehearsal.phases import Rehearsal
from ..rehearsal.state import write_snapshot
from ..rehearsal.sweep import Sweep
from .chart import draw_timeline
from .checks import (
    archived_mail, check_rows, compared, copies_on_new, messages_per_user, redownload, road, shown_once, stored_messages,
    sweep_rows,
)
from .html import write_html
from .junit import junit
from .terminal import verdict_line

def to_json(rehearsal: Rehearsal) -> dict[str, object]:
    return {
        "scenario": rehearsal.scenario.name,
        "lab": rehearsal.lab_id,
        "road": road(rehearsal),
        "compared": compared(rehearsal),
        "verdict": rehearsal.verdict,
        "summary": verdict_line(rehearsal),
        "error": rehearsal.error,
        "messages": {side: sum(stored_messages(user, shown_once(rehearsal, role)) for user in state.users.values())
                     if state else None for side, role, state in (("old", "old", rehearsal.baseline),
                                                                  ("new", rehearsal.scenario.target, rehearsal.new))},
        "messages_per_user": messages_per_user(rehearsal),
        "copies_on_new": copies_on_new(rehearsal),
        "archived_on_gmail": archived_mail(rehearsal),
        "checks": [{"property": p, "status": s, "findings": len(f)} for p, s, f in check_rows(rehearsal)],
        "clients_would_redownload": redownload(rehearsal),
        "steps": [step.model_dump() for step in rehearsal.steps],
        "faults": [{"fault": s.fault, "when": s.when, "host": s.host, "struck_at_s": s.at, "detail": s.detail,
                    "log": s.log} for s in rehearsal.strikes],
        "findings": [f.model_dump(by_alias=True) | {"property": f.property} for f in rehearsal.findings],
        "finding_counts": dict(Counter(f.kind for f in rehearsal.findings)),
        "timings_s": rehearsal.timings,
        "own_config": rehearsal.own_config,
    } | ({"ledger": rehearsal.ledger.summary(), "timeline": cutover_timeline(rehearsal)} if rehearsal.ledger else {})


TIMELINE_PICTURE = "timeline.png"
HTML_REPORT = "report.html"


def cutover_timeline(rehearsal: Rehearsal) -> dict[str, object]:
    """Per second of a live cutover: sent, delivered on old and on new, queued at the sender;
    and the steps as events."""
    record = rehearsal.cutover
    return {"seconds": timeline(record.sent, record.attempts, record.ended_at),
            "events": [{"at": event.at, "step": event.label} for event in record.events]}


def write_reports(rehearsal: Rehearsal, directory: Path) -> None:
    """report.json, the snapshots, junit.xml, the cutover's timeline.png and report.html (from
    report.json's data, with the picture in it)."""
    directory.mkdir(parents=True, exist_ok=True)
    report = to_json(rehearsal)
    (directory / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for name, state in (("old", rehearsal.baseline), ("new", rehearsal.new), ("old-after", rehearsal.old)):
        if state is not None:
            write_snapshot(state, directory / f"snapshot-{name}.json")
    junit(rehearsal).write(str(directory / "junit.xml"), pretty=True)
    picture = None
    if rehearsal.ledger:
        picture = directory / TIMELINE_PICTURE
        draw_timeline(report["timeline"], f"{rehearsal.scenario.name}: {report['summary']}", picture)
    write_html(report, directory / HTML_REPORT, picture)


def write_sweep(sweep: Sweep, directory: Path) -> None:
    """sweep.json, and each run's own reports: the measuring run's in the directory, each
    point's in point-N/."""
    write_reports(sweep.lab, directory)
    for n, point in enumerate(sweep.points, 1):
        write_reports(point.rehearsal, directory / f"point-{n}")
    summary = {"scenario": sweep.lab.scenario.name, "verdict": "error" if sweep.lab.error else
               "pass" if sweep.passed else "fail", "error": sweep.lab.error,
               "converge_s": sweep.lab.timings.get("converge"), "points": sweep_rows(sweep)}
    (directory / "sweep.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
