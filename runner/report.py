"""The report: a table of checks and a one-line verdict on the terminal, report.json and
junit.xml on disk, and the admin's real question answered: would IMAP or POP3 clients
download mail again after this migration, and for which users and folders?"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite
from rich.console import Console
from rich.table import Table

from runner.compare import FINDING_PROPERTY, Finding
from runner.phases import Rehearsal
from runner.scenario import PROPERTIES


def redownload(rehearsal: Rehearsal) -> dict[str, list[dict[str, object]]]:
    """Where clients would re-download: IMAP per user and folder, POP3 per user."""
    old_sizes = {
        (user.address, name): len(folder.messages)
        for user in (rehearsal.old.users.values() if rehearsal.old else [])
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


def messages_per_user(rehearsal: Rehearsal) -> dict[str, dict[str, int | None]]:
    """Each user's message count on old and new (new without the expected arrivals' share)."""
    old = rehearsal.old.users if rehearsal.old else {}
    new = rehearsal.new.users if rehearsal.new else {}
    return {address: {"old": user.message_count, "new": new[address].message_count if address in new else None}
            for address, user in old.items()}


def check_rows(rehearsal: Rehearsal) -> list[tuple[str, str, list[Finding]]]:
    """(property, status, findings) for every property: held, LOST, or a tolerated loss."""
    by_property: dict[str, list[Finding]] = defaultdict(list)
    for finding in rehearsal.findings:
        by_property[finding.property].append(finding)
    rows = []
    for prop in PROPERTIES:
        if prop == "delivery" and not rehearsal.scenario.expect.smoke_delivery:
            continue
        found = by_property.get(prop, [])
        if not found:
            status = "held"
        elif all(f.tolerated for f in found):
            status = "tolerated loss"
        else:
            status = "LOST"
        rows.append((prop, status, found))
    return rows


def verdict_line(rehearsal: Rehearsal) -> str:
    broken = sorted({f.kind for f in rehearsal.findings if not f.tolerated})
    failed_steps = [s.step for s in rehearsal.steps if not s.ok]
    if rehearsal.passed:
        tolerated = sum(f.tolerated for f in rehearsal.findings)
        extra = f" ({tolerated} tolerated findings)" if tolerated else ""
        return f"PASS: {rehearsal.scenario.name}: every expectation held{extra}"
    parts = []
    if failed_steps:
        parts.append(f"step failed: {failed_steps[0]}")
    if broken:
        parts.append("findings: " + ", ".join(broken))
    return f"FAIL: {rehearsal.scenario.name}: " + "; ".join(parts)


def to_json(rehearsal: Rehearsal) -> dict[str, object]:
    return {
        "scenario": rehearsal.scenario.name,
        "lab": rehearsal.lab_id,
        "verdict": "pass" if rehearsal.passed else "fail",
        "summary": verdict_line(rehearsal),
        "messages": {"old": rehearsal.old.message_count if rehearsal.old else None,
                     "new": rehearsal.new.message_count if rehearsal.new else None},
        "messages_per_user": messages_per_user(rehearsal),
        "checks": [{"property": p, "status": s, "findings": len(f)} for p, s, f in check_rows(rehearsal)],
        "clients_would_redownload": redownload(rehearsal),
        "steps": [step.model_dump() for step in rehearsal.steps],
        "findings": [f.model_dump(by_alias=True) | {"property": f.property} for f in rehearsal.findings],
        "finding_counts": dict(Counter(f.kind for f in rehearsal.findings)),
        "timings_s": rehearsal.timings,
    }


def write_reports(rehearsal: Rehearsal, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(to_json(rehearsal), indent=2, ensure_ascii=False) + "\n")
    for state in (rehearsal.old, rehearsal.new):
        if state is not None:
            (directory / f"snapshot-{state.role}.json").write_text(state.model_dump_json(indent=1))
    suite = TestSuite(f"maillab.{rehearsal.scenario.name}")
    for step in rehearsal.steps:
        case = TestCase(f"step: {step.step}", classname="converge", time=step.seconds)
        if not step.ok:
            case.result = [Failure(f"exit {step.exit_code}: {step.meaning}")]
        suite.add_testcase(case)
    for prop, status, found in check_rows(rehearsal):
        case = TestCase(f"preserved: {prop}", classname="verify")
        if status == "LOST":
            case.result = [Failure(f"{len(found)} findings: " + "; ".join(_one_line(f) for f in found[:5]))]
        elif status == "tolerated loss":
            case.result = [Skipped(f"declared loss, {len(found)} findings")]
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.write(str(directory / "junit.xml"), pretty=True)


def _one_line(finding: Finding) -> str:
    where = " ".join(str(x) for x in (finding.user, finding.mailbox, f"UID {finding.uid}" if finding.uid else None) if x)
    return f"{finding.kind} {where}: {finding.detail}".strip()


def render(rehearsal: Rehearsal, console: Console) -> None:
    steps = Table(title="Migration steps", title_justify="left")
    for column in ("step", "host", "exit", "meaning", "s"):
        steps.add_column(column)
    for step in rehearsal.steps:
        style = "" if step.ok else "red"
        steps.add_row(step.step, step.host, str(step.exit_code), step.meaning, f"{step.seconds:.1f}", style=style)
    console.print(steps)
    for step in rehearsal.steps:
        if step.show_output and step.output:
            console.print(f"Output of {step.step} (exit {step.exit_code}, last lines):", markup=False)
            console.print("\n".join("  " + line for line in step.output.splitlines()[-10:]), markup=False)

    checks = Table(title="Checks (old -> new, as clients see them)", title_justify="left")
    for column in ("property", "status", "findings", "example"):
        checks.add_column(column)
    colours = {"held": "green", "LOST": "bold red", "tolerated loss": "yellow"}
    for prop, status, found in check_rows(rehearsal):
        checks.add_row(prop, f"[{colours[status]}]{status}[/]", str(len(found)),
                       _one_line(found[0]) if found else "", )
    console.print(checks)

    arrivals = Counter(arrival.user for arrival in rehearsal.arrivals)
    short = {address: counts for address, counts in messages_per_user(rehearsal).items()
             if counts["new"] is not None and counts["new"] - arrivals[address] < counts["old"]}
    for address, counts in short.items():
        console.print(f"[red]{address}: {counts['old']} messages on old, only "
                      f"{counts['new'] - arrivals[address]} on new[/]")

    again = redownload(rehearsal)
    if again["imap"] or again["pop3"]:
        console.print("[bold red]Clients would re-download mail after this migration:[/]")
        for entry in again["imap"]:
            console.print(f"  IMAP  {entry['user']}  {entry['mailbox']}: {entry['messages']} messages - {entry['reason']}")
        for entry in again["pop3"]:
            console.print(f"  POP3  {entry['user']}: {entry['reason']}")
    else:
        console.print("No IMAP or POP3 client would re-download mail: UIDVALIDITY, UIDs and UIDLs held.")
    colour = "green" if rehearsal.passed else "red"
    console.print(f"[bold {colour}]{verdict_line(rehearsal)}[/]")
