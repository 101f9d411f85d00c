"""maillab's speed and memory figures on this machine, each next to its target: warm default
rehearsal no slower than before (17-18 s), seeding >= 2,000 msg/s and snapshot >= 3,000 msg/s
(full-content sha256) on a 10,000-message mailbox, `maillab validate` under 1 s and 200 MB on
every file of the bad-scenario corpus, the warm live cutover (ispmail-cutover) under 90 s with
its ledger. Prints figures only; nothing here asserts.

    .venv/bin/python bench/bench.py            # everything, cold builds included (~6 min)
    .venv/bin/python bench/bench.py --no-cold  # keep the images, skip the cold builds
    .venv/bin/python bench/bench.py --paths    # also every shipped scenario, end to end (~7 min)
    .venv/bin/python bench/bench.py --validate # only the bad-scenario corpus (no Docker)
    .venv/bin/python bench/bench.py --cutover  # only the live cutover (warm)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
ROOT = Path(__file__).resolve().parents[1]

from maillab.lab.baseimage import BASE_LABEL, image_exists  # noqa: E402
from maillab.lab.images import ensure_images, ensure_mailhost_image, mailhost_image  # noqa: E402
from maillab.lab.lab import Lab, docker_client  # noqa: E402
from maillab.runner.scenario import HostSpec, Scenario  # noqa: E402
from maillab.runner.seed import seed_host  # noqa: E402
from maillab.runner.snapshot import snapshot_user  # noqa: E402
from maillab.runner.vocabulary import SUITES  # noqa: E402

BIG_MAILBOX = 10_000


def cold_builds(suites: tuple[str, ...]) -> None:
    client = docker_client()
    for suite in suites:
        for name in (mailhost_image(suite), f"debian:{suite}"):
            if image_exists(client, name):
                labels = client.images.get(name).labels or {}
                if name.startswith("debian:") and BASE_LABEL not in labels:
                    print(f"  keeping {name}: not made by maillab")
                    continue
                client.images.remove(name, force=True)
        started = time.monotonic()
        ensure_mailhost_image(client, suite)
        print(f"cold build {suite:9s} (debootstrap + import + image): {time.monotonic() - started:6.1f} s")


REPORT = Path("/tmp/maillab-bench-report")


def rehearsal(scenario: str) -> tuple[float, int, str]:
    """One run through the CLI: seconds, exit code, verdict line."""
    command = [sys.executable, "-m", "maillab.runner.cli", "-q", "run", scenario, "--report-dir", str(REPORT)]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return time.monotonic() - started, run.returncode, (run.stdout or run.stderr).strip()


def warm_rehearsal(runs: int = 3) -> None:
    rehearsal("scenarios/bullseye-to-bookworm.yaml")  # images and caches warm
    for _ in range(runs):
        seconds, code, verdict = rehearsal("scenarios/bullseye-to-bookworm.yaml")
        phases = json.loads((REPORT / "report.json").read_text())["timings_s"]
        print(f"warm default rehearsal, end to end:           {seconds:6.1f} s  (target: no slower than 17-18 s; "
              f"exit {code}; {verdict})")
        print("  phases: " + ", ".join(f"{name} {secs}" for name, secs in phases.items()))


def validate_corpus() -> None:
    """`maillab validate` on every bad file, as a user runs it: wall time and peak RSS of the
    whole process (interpreter and imports included)."""
    worst_time, worst_memory, codes = (0.0, ""), (0.0, ""), set()
    for path in sorted((ROOT / "tests/unit/bad-scenarios").glob("*.yaml")):
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "maillab.runner.cli", "validate", str(path)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        worst_time = max(worst_time, (time.monotonic() - started, path.name))
        worst_memory = max(worst_memory, (usage.ru_maxrss / 1024, path.name))
        codes.add(os.waitstatus_to_exitcode(status))
    print(f"validate, slowest bad file:   {worst_time[0]:6.2f} s  ({worst_time[1]}; target < 1 s; exit codes {codes})")
    print(f"validate, largest peak RSS:   {worst_memory[0]:6.0f} MB ({worst_memory[1]}; target < 200 MB)")


def live_cutover() -> None:
    """ispmail-cutover, warm (the internet's image built first): end to end, phases, ledger."""
    ensure_images(docker_client(), (), internet=True)
    seconds, code, verdict = rehearsal("scenarios/ispmail-cutover.yaml")
    report = json.loads((REPORT / "report.json").read_text())
    ledger = report.get("ledger", {})
    print(f"warm ispmail-cutover, end to end:             {seconds:6.1f} s  (target < 90 s; exit {code}; {verdict})")
    print("  phases: " + ", ".join(f"{name} {secs}" for name, secs in report["timings_s"].items()))
    print("  ledger: " + ", ".join(f"{key} {ledger.get(key)}" for key in
                                   ("sent", "delivered", "delayed", "bounced", "stranded", "duplicated", "missing",
                                    "lost", "max_delay_s")))


def every_path() -> None:
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        seconds, code, verdict = rehearsal(str(scenario.relative_to(ROOT)))
        print(f"{scenario.stem:42s} {seconds:6.1f} s  exit {code}  {verdict[:60]}")


def big_mailbox() -> None:
    scenario = Scenario.model_validate({
        "name": "bench", "description": "one 10,000-message mailbox", "seed": 5,
        "hosts": {"old": {"suite": "bookworm"}, "new": {"suite": "bookworm"}},
        "users": [{"address": "big@example.org",
                   "folders": [{"name": "INBOX", "count": BIG_MAILBOX, "keywords": {"Work": 0.2}}]}],
        "steps": [{"method": "copy_userdb"}],
    })
    passwords = {"big@example.org": secrets.token_urlsafe(12)}
    with Lab({"old": HostSpec(suite="bookworm")}) as lab:
        started = time.monotonic()
        written = seed_host(lab["old"], scenario, passwords)
        seconds = time.monotonic() - started
        print(f"seeding {written} messages:                  {seconds:6.1f} s = {written / seconds:7.0f} msg/s")
        for label in ("first (Dovecot indexes the Maildir)", "second (indexed)"):
            started = time.monotonic()
            state = snapshot_user(lab["old"], "big@example.org", passwords["big@example.org"])
            seconds = time.monotonic() - started
            count = state.message_count
            print(f"snapshot, {label:36s} {seconds:6.1f} s = {count / seconds:7.0f} msg/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (seed + snapshots):  {peak:6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the cold image builds")
    parser.add_argument("--paths", action="store_true", help="also time every shipped scenario")
    parser.add_argument("--validate", action="store_true", help="only the bad-scenario corpus (no Docker)")
    parser.add_argument("--cutover", action="store_true", help="only the warm live cutover")
    args = parser.parse_args()
    if args.cutover:
        live_cutover()
        return
    validate_corpus()
    if args.validate:
        return
    if not args.no_cold:
        cold_builds(SUITES)
    else:
        for suite in SUITES:
            ensure_mailhost_image(docker_client(), suite)
    warm_rehearsal()
    live_cutover()
    big_mailbox()
    if args.paths:
        every_path()


if __name__ == "__main__":
    main()
