"""The report: a table of checks and a one-line verdict on the terminal, report.json,
junit.xml and report.html on disk, and the admin's real question answered: would IMAP or
POP3 clients download mail again after this migration, and for which users and folders?

Everything here reads a finished Rehearsal; a rehearsal that could not finish (a lab error,
a signal) still gets both files, with verdict `error`, so CI shows what happened.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite
from rich.console import Console
from rich.table import Table
from rich.text import Text

from maillab.runner.chart import draw_timeline
from maillab.runner.compare import SERVES, stored_copies
from maillab.runner.findings import Finding
from maillab.runner.html_report import write_html
from maillab.runner.ledger import FATES, timeline
from maillab.runner.phases import Rehearsal
from maillab.runner.scenario import GMAIL_VIRTUAL_FOLDERS
from maillab.runner.state import HostState, UserState
from maillab.runner.sweep import Sweep
from maillab.runner.vocabulary import PROPERTIES

# Which snapshot part each property is read from (compare.SERVES says which service serves it).
PROPERTY_PART = {"folders": "folders", "messages": "folders", "content": "folders", "flags": "folders",
                 "keywords": "folders", "dates": "folders", "guids": "folders", "uids": "folders",
                 "uidvalidity": "folders", "subscriptions": "subscriptions", "sieve": "sieve",
                 "pop3_uidls": "uidls", "db_rows": "db_rows"}


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


def views(rehearsal: Rehearsal, role: str) -> frozenset[str]:
    """The folders of a host that show other folders' messages and store none (a Gmail-shaped
    host's virtual folders): not counted as mail of their own."""
    return frozenset(GMAIL_VIRTUAL_FOLDERS) if rehearsal.scenario.hosts[role].special_folders == "gmail" \
        else frozenset()


def stored_messages(user: UserState, shown_elsewhere: frozenset[str], leaving_out: frozenset[str] = frozenset()) -> int:
    """The user's messages in real folders, but those of `leaving_out` (Message-IDs)."""
    return sum(1 for name, folder in user.folders.items() if name not in shown_elsewhere
               for message in folder.messages if message.message_id not in leaving_out)


def messages_per_user(rehearsal: Rehearsal) -> dict[str, dict[str, int | None]]:
    """Each user's message count on old and new, in real folders, without the expected
    arrivals on either side. Old is the reference the verdict compares with (compare.judge): old
    before the migration, or old at its end when the steps are meant to change it (cutover mail)."""
    reference = rehearsal.old if rehearsal.scenario.changes_old and rehearsal.old else rehearsal.baseline
    old = reference.users if reference else {}
    new = rehearsal.new.users if rehearsal.new else {}
    arrived = frozenset(arrival.message_id for arrival in rehearsal.arrivals)
    old_views, new_views = views(rehearsal, "old"), views(rehearsal, "new")
    return {address: {"old": stored_messages(user, old_views, arrived),
                      "new": stored_messages(new[address], new_views, arrived) if address in new else None}
            for address, user in old.items()}


def copies_on_new(rehearsal: Rehearsal) -> dict[str, dict[str, object]]:
    """Per user: the messages new stores more than once (Gmail's labels become copies, and
    each copy counts against the quota), with what they take of the user's quota."""
    if rehearsal.new is None:
        return {}
    quotas = {user.address: user.quota for user in rehearsal.scenario.users}
    return {address: {"messages": found.messages, "copies": found.copies, "copy_bytes": found.copy_bytes,
                      "stored_bytes": found.stored_bytes, "quota": found.quota, "quota_share": found.quota_share,
                      "folders": found.folders}
            for address, found in stored_copies(rehearsal.new, quotas, views(rehearsal, "new")).items()}


def not_checked(rehearsal: Rehearsal) -> dict[str, str]:
    """Properties the rehearsal could not judge, and why."""
    reasons = {}
    expect, new = rehearsal.scenario.expect, rehearsal.new
    if rehearsal.converged is None:
        reasons["idempotence"] = "the steps did not run twice"
    if not expect.smoke_delivery and not rehearsal.arrivals and not rehearsal.ledger:
        reasons["delivery"] = "no mail was sent to new"
    if not rehearsal.tls:
        reasons["tls"] = "no live cutover: the lab serves no TLS"
    # a service old did not answer in the baseline left nothing to compare with, either
    for role, state in (("old", rehearsal.baseline), ("new", new)):
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


def verdict_line(rehearsal: Rehearsal) -> str:
    name = rehearsal.scenario.name
    if rehearsal.error:
        return f"ERROR: {name}: {rehearsal.error}"
    if rehearsal.passed:
        tolerated = sum(f.tolerated for f in rehearsal.findings)
        return f"PASS: {name}: every expectation held" + (f" ({tolerated} tolerated findings)" if tolerated else "")
    broken = [f for f in rehearsal.findings if not f.tolerated]
    parts = []
    if damage := [f for f in broken if f.kind == "source_changed"]:
        parts.append(f"the source was damaged: {len({(f.user, f.mailbox) for f in damage})} places on old changed "
                     f"({damage[0].user} {damage[0].mailbox or ''})".replace(" )", ")"))
    if failed := [s.step for s in rehearsal.steps if not (s.ok or s.resumed)]:
        parts.append(f"step failed: {failed[0]}")
    if broken:
        parts.append("findings: " + ", ".join(sorted({f.kind for f in broken})))
    return f"FAIL: {name}: " + "; ".join(parts)


def to_json(rehearsal: Rehearsal) -> dict[str, object]:
    return {
        "scenario": rehearsal.scenario.name,
        "lab": rehearsal.lab_id,
        "verdict": rehearsal.verdict,
        "summary": verdict_line(rehearsal),
        "error": rehearsal.error,
        "messages": {role: sum(stored_messages(user, views(rehearsal, role)) for user in state.users.values())
                     if state else None for role, state in (("old", rehearsal.baseline), ("new", rehearsal.new))},
        "messages_per_user": messages_per_user(rehearsal),
        "copies_on_new": copies_on_new(rehearsal),
        "checks": [{"property": p, "status": s, "findings": len(f)} for p, s, f in check_rows(rehearsal)],
        "clients_would_redownload": redownload(rehearsal),
        "steps": [step.model_dump() for step in rehearsal.steps],
        "faults": [{"fault": s.fault, "when": s.when, "host": s.host, "struck_at_s": s.at, "detail": s.detail,
                    "log": s.log} for s in rehearsal.strikes],
        "findings": [f.model_dump(by_alias=True) | {"property": f.property} for f in rehearsal.findings],
        "finding_counts": dict(Counter(f.kind for f in rehearsal.findings)),
        "timings_s": rehearsal.timings,
    } | ({"ledger": rehearsal.ledger.summary(), "timeline": cutover_timeline(rehearsal)} if rehearsal.ledger else {})


TIMELINE_PICTURE = "timeline.png"
HTML_REPORT = "report.html"


def cutover_timeline(rehearsal: Rehearsal) -> dict[str, object]:
    """Per second of a live cutover: sent, delivered on old and on new, queued at the sender;
    and the steps as events."""
    record = rehearsal.cutover
    return {"seconds": timeline(record.sent, record.attempts, record.ended_at),
            "events": [{"at": event.at, "step": event.label} for event in record.events]}


# What XML 1.0 cannot hold (a docker build's terminal codes in a lab error): shown as \xNN
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return NOT_XML.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def junit(rehearsal: Rehearsal) -> JUnitXml:
    suite = TestSuite(f"maillab.{rehearsal.scenario.name}")
    if rehearsal.error:
        case = TestCase("rehearsal", classname="maillab")
        case.result = [Error(_xml_text(rehearsal.error))]
        suite.add_testcase(case)
    for step in rehearsal.steps:
        case = TestCase(_xml_text(f"step: {step.step}"), classname="converge", time=step.seconds)
        if not (step.ok or step.resumed):
            case.result = [Failure(_xml_text(f"exit {step.exit_shown}: {step.meaning}"))]
        suite.add_testcase(case)
    if rehearsal.error is None:
        for prop, status, found in check_rows(rehearsal):
            case = TestCase(f"preserved: {prop}", classname="verify")
            if status == "LOST":
                case.result = [Failure(_xml_text(f"{len(found)} findings: " + "; ".join(f.one_line() for f in found[:5])))]
            elif status != "held":
                case.result = [Skipped(f"declared loss, {len(found)} findings" if found else status)]
            suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    return xml


def write_snapshot(state: HostState, path: Path) -> None:
    """The snapshot as JSON, one user at a time: the whole text of a 100,000-message host is
    about 40 MB, held twice while written at once."""
    with path.open("wb") as out:
        out.write(state.model_dump_json(exclude={"users"}).encode()[:-1] + b', "users": {')
        for n, (address, user) in enumerate(state.users.items()):
            out.write(b", " * bool(n) + json.dumps(address).encode() + b": " + user.model_dump_json(indent=1).encode())
        out.write(b"}}\n")


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


def render(rehearsal: Rehearsal, console: Console) -> None:
    """The tables and answers, then the verdict line. Scenario text is shown as text, never
    read as markup."""
    steps = Table(title="Migration steps", title_justify="left")
    for column in ("step", "host", "exit", "meaning", "s"):
        steps.add_column(column)
    for step in rehearsal.steps:
        steps.add_row(Text(step.step), step.host, step.exit_shown,
                      Text(step.meaning + (" (under a fault: run again)" if step.resumed else "")
                           + (f"\n{step.first_error}" if step.first_error else "")),
                      f"{step.seconds:.1f}", style="" if step.ok else "yellow" if step.resumed else "red")
    console.print(steps)
    for strike in rehearsal.strikes:
        console.print(Text(f"fault: {strike.one_line()}", style="yellow"))
    for step in rehearsal.steps:
        if step.show_output and step.output:
            console.print(Text(f"Output of {step.step} (exit {step.exit_shown}, last lines):"))
            console.print(Text("\n".join("  " + line for line in step.output.splitlines()[-10:])))
    if rehearsal.error is None:
        checks = Table(title="Checks (old -> new, as clients see them)", title_justify="left")
        for column in ("property", "status", "findings", "example"):
            checks.add_column(column)
        colours = {"held": "green", "LOST": "bold red", "tolerated loss": "yellow"}
        for prop, status, found in check_rows(rehearsal):
            checks.add_row(prop, Text(status, style=colours.get(status, "dim")), str(len(found)),
                           Text(found[0].one_line()) if found else "")
        console.print(checks)
        for address, counts in messages_per_user(rehearsal).items():
            if counts["new"] is not None and counts["new"] < counts["old"]:
                console.print(Text(f"{address}: {counts['old']} messages on old, only {counts['new']} on new",
                                   style="red"))
        render_copies(copies_on_new(rehearsal), console)
        again = redownload(rehearsal)
        if again["imap"] or again["pop3"]:
            console.print(Text("Clients would re-download mail after this migration:", style="bold red"))
            for entry in again["imap"]:
                console.print(Text(f"  IMAP  {entry['user']}  {entry['mailbox']}: {entry['messages']} messages - "
                                   f"{entry['reason']}"))
            for entry in again["pop3"]:
                console.print(Text(f"  POP3  {entry['user']}: {entry['reason']}"))
        else:
            console.print("No IMAP or POP3 client would re-download mail: UIDVALIDITY, UIDs and UIDLs held.")
    if rehearsal.ledger:
        render_ledger(rehearsal.ledger.summary(), console)
    render_verdict(rehearsal, console)


def render_copies(copies: dict[str, dict[str, object]], console: Console) -> None:
    """The messages new stores more than once, per user, and their share of the quota."""
    if not copies:
        return
    table = Table(title="Messages new stores more than once (each copy counts against the quota)",
                  title_justify="left")
    for column in ("user", "messages", "extra copies", "copies' bytes", "all mail", "quota", "copies take",
                   "in folders"):
        table.add_column(column)
    for address, found in copies.items():
        share = found["quota_share"]
        over = found["quota"] and found["stored_bytes"] > found["quota"]
        table.add_row(Text(address), str(found["messages"]), str(found["copies"]), f"{found['copy_bytes']:,}",
                      f"{found['stored_bytes']:,}", f"{found['quota']:,}" if found["quota"] else "none",
                      f"{share:.0%} of the quota" if share is not None else "-",
                      Text(", ".join(f"{name} ({n})" for name, n in found["folders"].items())),
                      style="red" if over else "yellow")
    console.print(table)


def render_ledger(summary: dict, console: Console) -> None:
    """The live cutover's balance: what the internet sent and where each message ended up."""
    table = Table(title="Mail the internet sent during the cutover", title_justify="left")
    for column in ("sent", *FATES, "max delay s"):
        table.add_column(column, justify="right")
    table.add_row(str(summary["sent"]), *(str(summary[fate]) for fate in FATES), f"{summary['max_delay_s']:.1f}",
                  style="red" if summary["lost"] or summary["duplicated"] else "")
    console.print(table)
    for entry in summary["not_delivered"][:20]:
        console.print(Text(f"  {entry['fate']:<10} {entry['message_id']} ({entry['user']}): {entry['detail']}"))


def render_verdict(rehearsal: Rehearsal, console: Console) -> None:
    colour = {"pass": "green", "fail": "red", "error": "red"}[rehearsal.verdict]
    console.print(Text(verdict_line(rehearsal), style=f"bold {colour}"))


def sweep_rows(sweep: Sweep) -> list[dict[str, object]]:
    """The interrupt sweep's table: where each point struck and what became of the run."""
    return [{"point": n, "at_s": point.at, "step": point.step,
             "step_name": point.rehearsal.scenario.steps[point.step - 1].describe(),
             "interrupted_exit": point.interrupted_exit, "resumed": point.what_resumed,
             "findings": point.findings, "converged": point.converged,
             "faults": [strike.one_line() for strike in point.rehearsal.strikes]}
            for n, point in enumerate(sweep.points, 1)]


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


def render_sweep(sweep: Sweep, console: Console) -> None:
    table = Table(title=f"Interrupt sweep: the migration ({sweep.lab.timings.get('converge', 0):.1f} s) "
                        "interrupted at each point, then resumed", title_justify="left")
    for column in ("point", "at s", "step", "exit of the interrupted step", "the resumed run", "findings",
                   "converged"):
        table.add_column(column)
    for row in sweep_rows(sweep):
        table.add_row(str(row["point"]), f"{row['at_s']:.2f}", Text(f"{row['step']}: {row['step_name']}"),
                      str(row["interrupted_exit"]), Text(str(row["resumed"])), ", ".join(row["findings"]) or "-",
                      "yes" if row["converged"] else "NO", style="" if row["converged"] else "red")
    console.print(table)
    name = sweep.lab.scenario.name
    if sweep.lab.error:
        line, colour = f"ERROR: {name}: {sweep.lab.error}", "red"
    elif sweep.passed:
        line, colour = f"PASS: {name}: converged after every one of {len(sweep.points)} interruptions", "green"
    else:
        failed = [str(n) for n, point in enumerate(sweep.points, 1) if not point.converged]
        line = f"FAIL: {name}: " + (verdict_line(sweep.lab).split(": ", 2)[2] if not sweep.lab.passed else
                                    f"did not converge after the interruption at point {', '.join(failed)}")
        colour = "red"
    console.print(Text(line, style=f"bold {colour}"))
