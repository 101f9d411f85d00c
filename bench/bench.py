"""maillab's speed and memory figures on this machine, each next to its target (issue 10):
the warm default rehearsal end to end <= 8 s with the lab's own time <= 0.5 x the migration's
(issue 21: with and without the seed cache, and with a lab on standby); bench/scenarios/scale-100x1000.yaml end to end
<= 120 s, everything but converge and idempotence <= 0.5 x converge, the runner's peak RSS <=
200 MB and flat as messages grow; seeding and snapshot >= 10,000 msg/s each on a 10,000-message
mailbox; a cold build of bullseye + bookworm <= 4 min; with --million, a 1,000 x 1,000
rehearsal. Also `maillab validate` under 1 s and 200 MB on every bad file, and the warm live
cutover under 90 s; each upgrade in place: the upgrade image's cold build, and the warm
dist_upgrade step <= 3 min. Prints figures only; nothing here asserts.

    .venv/bin/python bench/bench.py            # everything but --million, cold builds included
    .venv/bin/python bench/bench.py --no-cold  # keep the images, skip the cold builds
    .venv/bin/python bench/bench.py --default  # only the warm default rehearsal: uncached, cached, on standby
    .venv/bin/python bench/bench.py --scale    # only the scale scenario (and a quarter of it)
    .venv/bin/python bench/bench.py --million  # only the 1,000,000-message rehearsal (long)
    .venv/bin/python bench/bench.py --paths    # also every shipped scenario, end to end (~7 min)
    .venv/bin/python bench/bench.py --validate # only the bad-scenario corpus (no Docker)
    .venv/bin/python bench/bench.py --cutover  # only the live cutover (warm)
    .venv/bin/python bench/bench.py --upgrade  # only the upgrades in place (cold image, warm step)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
ROOT = Path(__file__).resolve().parents[1]

from maillab.lab.baseimage import BASE_LABEL, image_exists  # noqa: E402
from maillab.lab.images import ensure_images, ensure_mailhost_image, mailhost_image, upgrade_image  # noqa: E402
from maillab.lab import standby  # noqa: E402
from maillab.lab.lab import Lab, docker_client, remove_lab  # noqa: E402
from maillab.runner.rehearsal.seed import seed_host  # noqa: E402
from maillab.runner.rehearsal.seed_cache import CACHE_MB_ENV  # noqa: E402
from maillab.runner.rehearsal.snapshot import snapshot_user  # noqa: E402
from maillab.runner.schema.scenario import HostSpec, Scenario  # noqa: E402
from maillab.runner.schema.vocabulary import SUITES  # noqa: E402

BIG_MAILBOX = 10_000
# The million's seed cache entry is 4.6 GB: over the default cap (2 GB), which would evict it at once.
MILLION_CACHE_MB = 8192


def cold_builds(suites: tuple[str, ...]) -> None:
    """Remove the suites' mail host images and the base images maillab made, then build them
    as a first rehearsal does (ensure_images: base images, then two builds at a time)."""
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
    ensure_images(client, suites, internet=False)
    print(f"cold build of {' + '.join(suites)} (debootstrap, import, images):  {time.monotonic() - started:6.1f} s  "
          "(target <= 240 s)")


REPORT = Path("/tmp/maillab-bench-report")


# The bench's own seed cache, emptied when it starts: its figures do not depend on what the
# user's cache holds.
CACHE = Path("/tmp/maillab-bench-cache")
STATE = Path("/tmp/maillab-bench-state")  # and its own labs on standby


def rehearsal(scenario: str, *options: str) -> tuple[float, int, str, float]:
    """One run through the CLI (with `options`, e.g. --no-cache): seconds, exit code, verdict
    line, and the runner's peak RSS in MB, sampled every 50 ms (wait4's ru_maxrss would carry
    this process's own peak over: Linux keeps it across fork and exec)."""
    command = [sys.executable, "-m", "maillab.runner.entry.cli", "-q", "run", scenario, "--report-dir", str(REPORT),
               *options]
    started = time.monotonic()
    with open(REPORT.with_suffix(".out"), "w+") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True)
        runner, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, runner.memory_info().rss)
            time.sleep(0.05)
        seconds = time.monotonic() - started
        output.seek(0)
        verdict = output.read().strip().splitlines()[-1:] or [""]
    return seconds, process.returncode, verdict[0], peak / 2**20


def phases_of_last_run() -> dict[str, float]:
    return json.loads((REPORT / "report.json").read_text())["timings_s"]


def own_share(phases: dict[str, float]) -> tuple[float, float]:
    """The lab's own time (every phase but converge and its rerun) and that of the migration."""
    migration = phases.get("converge", 0) + phases.get("idempotence", 0)
    return sum(phases.values()) - migration, migration


# An admin's edit between two runs: the lab left on standby boots meanwhile (~3 s here).
EDIT_PAUSE = 10


def warm_rehearsal(runs: int = 3) -> None:
    """The default rehearsal, images built: without the seed cache, then the run that fills it,
    then from it; then with a lab on standby (--standby), the runs after an edit's pause."""
    default = "scenarios/bullseye-to-bookworm.yaml"
    rehearsal(default, "--no-cache")  # images and the engine's caches warm
    for label, options in [("uncached (--no-cache)", ["--no-cache"])] * runs + [("filling the seed cache", [])] \
            + [("from the seed cache", [])] * runs + [("leaving a lab on standby", ["--standby"])] \
            + [("cached, lab on standby", ["--standby"])] * runs:
        if label == "cached, lab on standby":
            time.sleep(EDIT_PAUSE)
        seconds, code, verdict, _ = rehearsal(default, *options)
        phases = phases_of_last_run()
        own, migration = own_share(phases)
        print(f"warm default rehearsal, {label + ',':23s} end to end: {seconds:5.1f} s  (target <= 8 s; exit {code}; "
              f"{verdict})")
        print(f"  lab's own time {own:4.1f} s = {own / max(migration, 0.01):4.2f} x the migration's {migration:4.1f} s "
              "(target <= 0.5); phases: " + ", ".join(f"{name} {secs}" for name, secs in phases.items()))
    for record in standby.waiting():  # the last run's: the bench leaves no lab behind
        remove_lab(docker_client(), record.lab_id)


SCALE = ROOT / "bench/scenarios/scale-100x1000.yaml"


def scale(users: int | None = None, label: str = "scale-100x1000", *options: str) -> None:
    """The scale scenario (or its first `users` users): end to end, phases, the lab's own
    share next to converge, and the runner's peak RSS per message count."""
    path = SCALE
    if users is not None:
        text = SCALE.read_text().split("\nusers:\n", 1)
        head, rest = text[0], text[1].split("\nsteps:\n", 1)
        path = REPORT.with_name(f"scale-{users}x1000.yaml")
        path.write_text(head + "\nusers:\n" + "\n".join(rest[0].splitlines()[:users]) + "\nsteps:\n" + rest[1])
    seconds, code, verdict, rss = rehearsal(str(path), *options)
    phases = phases_of_last_run()
    own, _ = own_share(phases)
    messages = json.loads((REPORT / "report.json").read_text())["messages"]
    print(f"{label}, end to end:                 {seconds:6.1f} s  (target <= 120 s for 100 x 1,000; exit {code}; "
          f"{verdict})")
    print("  phases: " + ", ".join(f"{name} {secs}" for name, secs in phases.items()))
    print(f"  everything but converge and idempotence: {own:6.1f} s = {own / max(phases.get('converge', 0), 0.01):4.2f} x "
          "converge (target <= 0.5)")
    held = sum(count or 0 for count in messages.values()) // 2  # a host not snapshotted counts None
    print(f"  runner peak RSS: {rss:6.0f} MB for {held} messages a host "
          "(target <= 200 MB at 100k messages, flat)")


def million() -> None:
    """1,000 users x 1,000 messages, seeded and then from the seed cache: the scale scenario's
    users repeated ten times over, without the idempotence rerun (it doubles a run that takes
    most of an hour here), and with messages of 400-6,000 bytes: two hosts' tmpfs of the
    default sizes would need 17 GB."""
    head, rest = SCALE.read_text().split("\nusers:\n", 1)
    users, steps = rest.split("\nsteps:\n", 1)
    line = users.splitlines()[0]
    line = line.replace("count: ", "sizes: [400, 6000], count: ")
    many = "\n".join(line.replace("user001@", f"user{n:04d}@") for n in range(1, 1001))
    path = REPORT.with_name("million.yaml")
    path.write_text(head.replace("scale-100x1000", "million-1000x1000") + "\nusers:\n" + many + "\nsteps:\n" + steps
                    + "idempotence: false\n")
    os.environ[CACHE_MB_ENV] = str(MILLION_CACHE_MB)
    for label in ("seeded, filling the seed cache", "from the seed cache"):
        seconds, code, verdict, rss = rehearsal(str(path))
        print(f"1,000 x 1,000 messages ({label}), end to end: {seconds:6.1f} s  (target <= 900 s; exit {code}; "
              f"{verdict})")
        print("  phases: " + ", ".join(f"{name} {secs}" for name, secs in phases_of_last_run().items()))
        print(f"  runner peak RSS: {rss:6.0f} MB (target <= 200 MB at 1,000,000 messages, as at 100,000)")


def validate_corpus() -> None:
    """`maillab validate` on every bad file, as a user runs it: wall time and peak RSS of the
    whole process (interpreter and imports included)."""
    worst_time, worst_memory, codes = (0.0, ""), (0.0, ""), set()
    for path in sorted((ROOT / "tests/unit/bad-scenarios").glob("*.yaml")):
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "maillab.runner.entry.cli", "validate", str(path)], cwd=ROOT,
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
    seconds, code, verdict, _ = rehearsal("scenarios/ispmail-cutover.yaml")
    report = json.loads((REPORT / "report.json").read_text())
    ledger = report.get("ledger", {})
    print(f"warm ispmail-cutover, end to end:             {seconds:6.1f} s  (target < 90 s; exit {code}; {verdict})")
    print("  phases: " + ", ".join(f"{name} {secs}" for name, secs in report["timings_s"].items()))
    print("  ledger: " + ", ".join(f"{key} {ledger.get(key)}" for key in
                                   ("sent", "delivered", "delayed", "bounced", "stranded", "duplicated", "missing",
                                    "lost", "max_delay_s")))


IN_PLACE = {("bookworm", "trixie"): "scenarios/in-place-bookworm-to-trixie.yaml",
            ("bullseye", "bookworm"): "bench/scenarios/in-place-bullseye-to-bookworm.yaml"}


def upgrades_in_place() -> None:
    """Each road in place: the upgrade image's cold build (the mail host image kept: it is
    the image's start), then the rehearsal warm, and its dist_upgrade step's own time."""
    client = docker_client()
    for (suite, target), scenario in IN_PLACE.items():
        ensure_images(client, (suite,), internet=False)
        if image_exists(client, upgrade_image(suite, target)):
            client.images.remove(upgrade_image(suite, target), force=True)
        started = time.monotonic()
        ensure_images(client, (), internet=False, upgrades=((suite, target),))
        print(f"cold build of {upgrade_image(suite, target)} (its packages fetched): "
              f"{time.monotonic() - started:6.1f} s  (no target)")
        seconds, code, verdict, _ = rehearsal(scenario)
        steps = json.loads((REPORT / "report.json").read_text())["steps"]
        upgrade = sum(step["seconds"] for step in steps)
        print(f"warm in-place {suite} -> {target}, end to end:    {seconds:6.1f} s  (exit {code}; {verdict})")
        print(f"  its dist_upgrade step:                      {upgrade:6.1f} s  (target <= 180 s)")
        print("  " + "; ".join(f"{step['step'][:40]}: {step['seconds']} s" for step in steps))


def every_path() -> None:
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        seconds, code, verdict, _ = rehearsal(str(scenario.relative_to(ROOT)))
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
        print(f"seeding {written} messages:                  {seconds:6.1f} s = {written / seconds:7.0f} msg/s "
              "(target >= 10,000)")
        state = None
        for label, given in (("first (Dovecot indexes the Maildir)", False), ("second (indexed)", False),
                             ("third, given the second (no bytes)", True)):
            started = time.monotonic()
            state = snapshot_user(lab["old"], "big@example.org", passwords["big@example.org"],
                                  earlier=state if given else None)
            seconds = time.monotonic() - started
            count = state.message_count
            print(f"snapshot, {label:36s} {seconds:6.1f} s = {count / seconds:7.0f} msg/s (target >= 10,000)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (seed + snapshots):  {peak:6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the cold image builds")
    parser.add_argument("--scale", action="store_true", help="only the scale scenario (and a quarter of it)")
    parser.add_argument("--million", action="store_true", help="only the 1,000,000-message rehearsal")
    parser.add_argument("--paths", action="store_true", help="also time every shipped scenario")
    parser.add_argument("--default", action="store_true", help="only the warm default rehearsal, uncached and cached")
    parser.add_argument("--validate", action="store_true", help="only the bad-scenario corpus (no Docker)")
    parser.add_argument("--cutover", action="store_true", help="only the warm live cutover")
    parser.add_argument("--upgrade", action="store_true", help="only the upgrades in place (cold image, warm step)")
    args = parser.parse_args()
    REPORT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(CACHE, ignore_errors=True)
    os.environ["MAILLAB_CACHE_DIR"] = str(CACHE)
    shutil.rmtree(STATE, ignore_errors=True)
    os.environ["MAILLAB_STATE_DIR"] = str(STATE)
    if args.cutover or args.million or args.scale or args.upgrade or args.default:
        {"cutover": live_cutover, "million": million, "scale": both_scales, "upgrade": upgrades_in_place,
         "default": warm_rehearsal}[
            next(name for name in ("cutover", "million", "scale", "upgrade", "default") if getattr(args, name))]()
        return
    validate_corpus()
    if args.validate:
        return
    if not args.no_cold:
        cold_builds(("bullseye", "bookworm"))
    for suite in SUITES:
        ensure_mailhost_image(docker_client(), suite)
    warm_rehearsal()
    big_mailbox()
    both_scales()
    live_cutover()
    upgrades_in_place()
    if args.paths:
        every_path()


def both_scales() -> None:
    scale(25, "scale-25x1000 (a quarter, uncached)", "--no-cache")
    scale(None, "scale-100x1000 (seeded, filling the seed cache)")
    scale(None, "scale-100x1000 (from the seed cache)")


if __name__ == "__main__":
    main()
