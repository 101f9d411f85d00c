"""What each fault does to each migration method: the table in docs/faults.md, measured.

For every method's shipped scenario, with four times its generated mail (so that the
migration lasts long enough to be struck in the middle): one run without a fault (the method's own findings),
then one run per fault, striking the method's migration step once half of the mail is on new
(a reboot of new gets new's mail on a disk, as on a real server). A cell says how the step
ended under the fault, what the resume did, and the findings beyond the method's own: a
method is safe to rerun after that fault when there are none. Prints a Markdown table; nothing
here asserts. About 15 minutes on 2 cores.

    .venv/bin/python bench/faults.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
ROOT = Path(__file__).resolve().parents[1]

from maillab.lab import signals  # noqa: E402
from maillab.runner.rehearsal.phases import Rehearsal, rehearse  # noqa: E402
from maillab.runner.schema.faults import CrashOld, Kill, NetworkCut, Restart, When  # noqa: E402
from maillab.runner.schema.loader import load_scenario  # noqa: E402
from maillab.runner.schema.scenario import Scenario  # noqa: E402

# (method, its shipped scenario, the step that migrates the mail, 1-based)
METHODS = [
    ("doveadm backup -R -A, tcp", "bullseye-to-bookworm", 2),
    ("doveadm backup push, ssh", "ssh-push-passwd-file", 3),
    ("imapc (doveadm backup -R imapc:)", "imapc-courier", 2),
    ("hot rsync of /var/vmail", "ispmail-rsync", 4),
    ("mbsync", "negative-mbsync", 2),
    ("own script (doveadm per user over ssh)", "own-script", 1),
]
SCALE = 4  # times the shipped scenarios' generated mail
FAULTS = {
    "kill": lambda when: Kill(what="kill", when=when),
    "network_cut 5 s": lambda when: NetworkCut(what="network_cut", when=when, seconds=5),
    "reboot new": lambda when: Restart(what="restart", when=when, host="new"),
    "crash_old": lambda when: CrashOld(what="crash_old", when=when),
}


def classes(rehearsal: Rehearsal) -> set[str]:
    return {finding.kind for finding in rehearsal.findings if not finding.tolerated}


def run(scenario: Scenario) -> Rehearsal:
    rehearsal = rehearse(scenario)
    if rehearsal.interrupted is not None:  # Ctrl-C or SIGTERM: the lab is gone, and so is the bench
        raise SystemExit(rehearsal.interrupted.exit_code)
    return rehearsal


def cell(rehearsal: Rehearsal, own: set[str]) -> str:
    """How the step ended, what the resume did, and what is worse than without the fault."""
    if rehearsal.error:
        return f"error: {rehearsal.error[:80]}"
    if not any(strike.at is not None for strike in rehearsal.strikes):
        return "did not strike (done first)"
    strike = next(strike for strike in rehearsal.strikes if strike.at is not None)
    failed = [step for step in rehearsal.steps if step.resumed]
    ended = f"exit {failed[0].exit_shown}, rerun" if failed else \
        "nothing left to kill" if "ended" in strike.detail else "step survived"
    stuck = [step for step in rehearsal.steps if not (step.ok or step.resumed)]
    worse = sorted(classes(rehearsal) - own)
    verdict = "resume failed" if stuck else f"+{', '.join(worse)}" if worse else "converged"
    return f"{ended}: **{verdict}**" if stuck or worse else f"{ended}: {verdict}"


def scaled(scenario: Scenario, factor: int) -> Scenario:
    """The scenario with `factor` times the generated mail, so that a migration step lasts
    long enough (seconds) to be struck in the middle."""
    users = [user.model_copy(update={"folders": [folder.model_copy(update={"count": folder.count * factor})
                                                 for folder in user.folders]}) for user in scenario.users]
    bigger = scenario.model_copy(update={"users": users})
    bigger._base_dir = scenario.base_dir
    return bigger


def main() -> None:
    signals.install()  # Ctrl-C and SIGTERM remove the lab of the run under way
    print("| method (scenario) | " + " | ".join(FAULTS) + " |")
    print("|---|" + "---|" * len(FAULTS))
    for method, name, step in METHODS:
        scenario = scaled(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), SCALE)
        started = time.monotonic()
        own = classes(run(scenario))
        when = When(step=step, messages=max(1, scenario.message_count // 2))
        cells = []
        for label, make in FAULTS.items():
            hosts = dict(scenario.hosts)
            if label == "reboot new":
                hosts["new"] = hosts["new"].model_copy(update={"mail_store": "disk"})
            faulted = scenario.model_copy(update={"faults": [make(when)], "hosts": hosts})
            faulted._base_dir = scenario.base_dir
            cells.append(cell(run(faulted), own))
        own_text = f"; own findings: {', '.join(sorted(own))}" if own else ""
        print(f"| {method} (`{name}`{own_text}) | " + " | ".join(cells) + " |", flush=True)
        print(f"  ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
