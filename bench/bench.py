"""maillab's speed figures on this machine. Targets: warm default rehearsal <= 20 s,
seeding >= 2,000 msg/s, snapshot >= 3,000 msg/s (full-content sha256) on a 10,000-message
mailbox. Prints figures only; nothing here asserts.

    .venv/bin/python bench/bench.py            # everything, cold builds included (~6 min)
    .venv/bin/python bench/bench.py --no-cold  # keep the images, skip the cold builds
    .venv/bin/python bench/bench.py --paths    # also every shipped scenario, end to end (~7 min)
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.baseimage import BASE_LABEL, image_exists  # noqa: E402
from lab.images import ensure_mailhost_image, mailhost_image  # noqa: E402
from lab.lab import HostConfig, Lab, docker_client  # noqa: E402
from runner.scenario import Scenario  # noqa: E402
from runner.seed import seed_host  # noqa: E402
from runner.snapshot import snapshot_user  # noqa: E402

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
        ensure_mailhost_image(client, suite, lambda _: None)
        print(f"cold build {suite:9s} (debootstrap + import + image): {time.monotonic() - started:6.1f} s")


def rehearsal(scenario: str) -> tuple[float, int, str]:
    """One run through the CLI: seconds, exit code, verdict line."""
    command = [sys.executable, "-c", "from runner.cli import main; main()", "run",
               scenario, "--report-dir", "/tmp/maillab-bench-report"]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    verdict = run.stdout.strip().splitlines()[-2] if run.stdout else run.stderr
    return time.monotonic() - started, run.returncode, verdict.strip()


def warm_rehearsal() -> None:
    rehearsal("scenarios/bullseye-to-bookworm.yaml")  # images and caches warm
    seconds, code, verdict = rehearsal("scenarios/bullseye-to-bookworm.yaml")
    print(f"warm default rehearsal, end to end:           {seconds:6.1f} s  (exit {code}; {verdict})")


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
    with Lab({"old": HostConfig(suite="bookworm")}) as lab:
        started = time.monotonic()
        written = seed_host(lab["old"], scenario, passwords, lambda _: None)
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
    args = parser.parse_args()
    suites = ("bullseye", "bookworm", "trixie")
    if not args.no_cold:
        cold_builds(suites)
    else:
        for suite in suites:
            ensure_mailhost_image(docker_client(), suite, lambda _: None)
    warm_rehearsal()
    big_mailbox()
    if args.paths:
        every_path()


if __name__ == "__main__":
    main()
