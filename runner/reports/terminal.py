"""The report on the terminal: the steps, the checks and the answers as tables, then the
one-line verdict. Scenario text is shown as text, never read as markup."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..rehearsal.ledger import FATES
from ..rehearsal.phases import Rehearsal
from ..rehearsal.sweep import Sweep
from .checks import (
    OWN_CONFIG_KINDS, archived_mail, check_rows, compared, copies_on_new, messages_per_user, redownload, road, sweep_rows,
)

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


def render(rehearsal: Rehearsal, console: Console) -> None:
    """The tables and answers, then the verdict line. Scenario text is shown as text, never
    read as markup."""
    console.print(Text(road(rehearsal)))
    steps = Table(title="Migration steps", title_justify="left")
    for column in ("step", "host", "exit", "meaning", "s"):
        steps.add_column(column)
    for step in rehearsal.steps:
        steps.add_row(Text(step.step), step.host, step.exit_shown,
                      Text(step.meaning + (" (under a fault: run again)" if step.resumed else "")
                           + (f"\n{step.first_error}" if step.first_error else "")),
                      f"{step.seconds:.1f}", style="" if step.ok else "yellow" if step.resumed else "red")
    console.print(steps)
    render_own_config(rehearsal.own_config, console)
    for strike in rehearsal.strikes:
        console.print(Text(f"fault: {strike.one_line()}", style="yellow"))
    for step in rehearsal.steps:
        if step.show_output and step.output:
            console.print(Text(f"Output of {step.step} (exit {step.exit_shown}, last lines):"))
            console.print(Text("\n".join("  " + line for line in step.output.splitlines()[-10:])))
    if rehearsal.error is None:
        checks = Table(title=f"Checks ({compared(rehearsal)}, as clients see them)", title_justify="left")
        for column in ("property", "status", "findings", "example"):
            checks.add_column(column)
        colours = {"held": "green", "LOST": "bold red", "tolerated loss": "yellow"}
        for prop, status, found in check_rows(rehearsal):
            checks.add_row(prop, Text(status, style=colours.get(status, "dim")), str(len(found)),
                           Text(found[0].one_line()) if found else "")
        console.print(checks)
        for address, counts in messages_per_user(rehearsal).items():
            if counts["new"] is not None and counts["new"] < counts["old"]:
                before, after = ("before the upgrade", "after it") if rehearsal.scenario.in_place else ("on old", "on new")
                console.print(Text(f"{address}: {counts['old']} messages {before}, only {counts['new']} {after}",
                                   style="red"))
        for address, found in archived_mail(rehearsal).items():
            console.print(Text(f"{address}: {found['archived']} archived messages on Gmail (in All Mail only), "
                               f"{found['on_new']} of them in new's [Gmail]/All Mail",
                               style="" if found["on_new"] == found["archived"] else "red"))
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



def render_own_config(own: dict[str, dict], console: Console) -> None:
    """What the lab did to the admin's own configuration on each host (docs/own-server.md)."""
    for role, done in own.items():
        console.print(Text(f"{role} runs the admin's configuration {done['folder']}; the lab", style="bold"))
        for kind in OWN_CONFIG_KINDS:
            for line in done[kind]:
                console.print(Text(f"  {kind}: {line}", style="red" if kind == "refused" else ""))
