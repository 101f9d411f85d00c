"""Faults injected into a running migration step (runner/schema/faults.py says what each one is).

`Injection` arms the faults of one step: a fault due as the step starts strikes before its
first command; the others wait in a watcher thread (for their second, or for the messages
arriving on new) while the step runs in the main thread. Each strike returns what it did and
may leave something to undo before the run resumes (the disk the admin frees). What happened
is a `Strike`, reported next to the steps, with the server's log lines from the moment it
struck, so a full disk or a quota shows up as what it is.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from ...lab.command import Command
from ...lab.containers import VMAIL, timed_argv
from ...lab.errors import LabError
from ...lab.poll import NotYet, poll
from ..methods.context import MigrationContext, Strike
from ..schema.faults import CrashOld, DiskFull, Fault, Kill, NetworkCut, Quota, Restart

log = logging.getLogger(__name__)
WATCH_INTERVAL = 0.1  # seconds between two looks at the clock or at new's mail
FILLER = f"{VMAIL}/.maillab-disk-filler"
# What a server logs about trouble: the lines a strike's report quotes.
TROUBLE = re.compile(r"(?i)error|fatal|panic|no space|quota|disconnect|killed|timed? ?out")
LOG_LINES = 3


# -- what each fault does ---------------------------------------------------------------------
# Each gets the fault, the run's context, the event set when the step has ended, and the
# strike to fill in: the host it hit, what it did, and what to undo before the run resumes.
def _kill(fault: Kill, context: MigrationContext, ended: threading.Event, strike: Strike) -> None:
    """SIGKILL to the process group of the step's running command (coreutils' timeout, which
    every lab command runs under, leads its own group: the command and all it started). Between
    two commands it waits for the next one, unless the step ends first."""
    while (running := context.running) is None:
        if ended.wait(WATCH_INTERVAL / 4):
            strike.detail = "no command of the step was running"
            return
    host, command, timeout = running
    strike.host = host.role
    argv = "\x01".join(timed_argv(command, timeout)) + "\x01"
    listing = host.run(Command.script('for p in /proc/[0-9]*; do printf "%s " "${p#/proc/}"; '
                                      'tr "\\0" "\\1" < "$p/cmdline"; echo; done 2>/dev/null')).stdout
    pids = [line.split(" ", 1)[0] for line in listing.splitlines() if line.partition(" ")[2] == argv]
    if not pids:
        strike.detail = "the command had just ended"
        return
    host.run(Command.of("kill", "-KILL", "--", *(f"-{pid}" for pid in pids)))
    strike.detail = f"killed '{command.shown(context.lab.secrets)[:120]}' on {host.role}"


def _network_cut(fault: NetworkCut, context: MigrationContext, _ended: threading.Event, strike: Strike) -> None:
    context.lab.disconnect(fault.host)
    time.sleep(fault.seconds)
    context.lab.reconnect(fault.host)
    strike.host, strike.detail = fault.host, f"{fault.host} was off the lab network for {fault.seconds:g} s"


def _restart(fault: Restart, context: MigrationContext, _ended: threading.Event, strike: Strike) -> None:
    strike.host = fault.host
    if fault.service:
        context.lab[fault.host].service(fault.service, "restart")
        strike.detail = f"supervisorctl restart {fault.service}"
    else:
        seconds = context.lab.reboot(fault.host)
        strike.detail = f"docker restart: {fault.host} answered again after {seconds:.1f} s"


def _disk_full(fault: DiskFull, context: MigrationContext, _ended: threading.Event, strike: Strike) -> None:
    new = context.lab["new"]
    # written until the disk refuses (the migration writes meanwhile), then `free` given back
    filled = new.run_checked(Command.script('dd if=/dev/zero of="$1" bs=64k 2>/dev/null; truncate -s "-$2" "$1" '
                                            '&& stat -c %s "$1"', FILLER, str(fault.free)), "filling new's mail store")

    def free_the_disk() -> None:
        new.run_checked(Command.of("rm", "-f", FILLER), "freeing new's mail store")
    strike.host, strike.heal = "new", free_the_disk
    strike.detail = f"{filled.stdout.strip()} bytes written to {FILLER}, {fault.free} left (freed before the run resumes)"


def _quota(fault: Quota, context: MigrationContext, _ended: threading.Event, strike: Strike) -> None:
    new = context.lab["new"]

    def set_quota(value: int) -> int:
        """Set the user's quota on new; returns the one it had."""
        with new.db("mailserver") as connection, connection.cursor() as cursor:
            cursor.execute("SELECT quota FROM virtual_users WHERE email = %s", (fault.user,))
            [before] = cursor.fetchone() or (None,)
            cursor.execute("UPDATE virtual_users SET quota = %s WHERE email = %s", (value, fault.user))
        if before is None:
            raise LabError(f"{fault.user} is not in new's virtual_users yet: strike after the user list is copied")
        return before
    before = set_quota(fault.bytes)

    def raise_quota_again() -> None:  # what Dovecot counted under the low quota, then the admin's fix
        report = new.run(Command.of("doveadm", "quota", "get", "-u", fault.user)).stdout.split("\n")
        # columns: quota name (two words here), type, value and limit in KiB, percent
        storage = next((line.split()[3:6] for line in report if " STORAGE " in line), None)
        counted = f"Dovecot counts {storage[0]} KiB against a limit of {storage[1]} KiB ({storage[2]} %)" \
            if storage and len(storage) == 3 else "no quota report from doveadm quota get"
        strike.detail += f"; after the step {counted}; set back to {before}"
        set_quota(before)
    strike.host, strike.heal = "new", raise_quota_again
    strike.detail = f"virtual_users.quota of {fault.user} on new: {before} -> {fault.bytes}"


def _crash_old(fault: CrashOld, context: MigrationContext, _ended: threading.Event, strike: Strike) -> None:
    old = context.lab["old"]
    # children may end by themselves meanwhile: only the master has to be there to be killed
    old.run_checked(Command.script('master=$(pgrep -o -x dovecot) || exit 1; '
                                   'kill -KILL $(pgrep -P "$master") "$master" 2>/dev/null; exit 0'),
                    "killing old's Dovecot")
    started = time.monotonic()

    def back() -> None:
        if "IMAP" in old.probe():
            raise NotYet("old's IMAP does not answer yet")
    poll("old's Dovecot to come back", back, timeout=60, interval=0.25)
    strike.host = "old"
    strike.detail = f"supervisord started it again; IMAP answered after {time.monotonic() - started:.1f} s"


STRIKES: dict[type[Fault], Callable[..., None]] = {
    Kill: _kill,
    NetworkCut: _network_cut,
    Restart: _restart,
    DiskFull: _disk_full,
    Quota: _quota,
    CrashOld: _crash_old,
}


# -- arming the faults of a step ----------------------------------------------------------------
def messages_on_new(context: MigrationContext) -> int:
    """Messages written on new so far: Maildir files in cur/ and new/ (seen live, before
    Dovecot's indexes know them)."""
    found = context.lab["new"].run(Command.script(
        'find "$1" -type f \\( -path "*/cur/*" -o -path "*/new/*" \\) | wc -l', VMAIL))
    return int(found.stdout.strip() or 0)


def heal(strikes: list[Strike]) -> None:
    """Undo what the strikes left (before the run resumes, and once the steps are done)."""
    for strike in strikes:
        if strike.heal is not None:
            strike.heal()
            strike.heal = None


class Injection:
    """The faults of one step, armed for the time the step runs (a context manager)."""

    def __init__(self, faults: list[Fault], context: MigrationContext) -> None:
        self.faults, self.context = faults, context
        self.strikes: list[Strike] = []
        self.started = 0.0
        self.done = threading.Event()
        self.errors: list[BaseException] = []
        self.watcher: threading.Thread | None = None

    def __enter__(self) -> Injection:
        self.started = time.monotonic()
        due, later = [], []
        for fault in self.faults:
            at_start = not fault.when.seconds and fault.when.messages is None and not isinstance(fault, Kill)
            (due if at_start else later).append(fault)  # a kill waits for a command to kill
        for fault in due:
            self._strike(fault)
        if later:
            self.watcher = threading.Thread(target=self._watch, args=(later,), name="fault watcher", daemon=True)
            self.watcher.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        if self.watcher is not None:
            self.watcher.join()  # a strike under way finishes: the network back, the host up
        if self.errors and exc_info[0] is None:
            raise LabError(f"a fault could not be injected: {self.errors[0]}") from self.errors[0]
        for strike in self.strikes:
            if strike.at is not None and strike.host != "-" and exc_info[0] is None:
                lines = self.context.lab.container(strike.host).logs(since=strike.clock).splitlines()
                strike.log = [line.strip() for line in lines if TROUBLE.search(line)][:LOG_LINES]

    def _watch(self, faults: list[Fault]) -> None:
        waiting = list(faults)
        try:
            while waiting and not self.done.is_set():
                for fault in list(waiting):
                    if self._due(fault):
                        waiting.remove(fault)
                        self._strike(fault)
                self.done.wait(WATCH_INTERVAL)
        except Exception as error:  # noqa: BLE001  handed to the main thread at the step's end
            self.errors.append(error)
        for fault in waiting:
            self.strikes.append(Strike(fault.describe(), fault.when.describe(), "-"))

    def _due(self, fault: Fault) -> bool:
        if fault.when.messages is not None:
            return messages_on_new(self.context) >= fault.when.messages
        return time.monotonic() - self.started >= fault.when.seconds

    def _strike(self, fault: Fault) -> None:
        at, clock = time.monotonic() - self.started, time.time()
        log.info("fault: %s (%s)", fault.describe(), fault.when.describe())
        strike = Strike(fault.describe(), fault.when.describe(), "-", at=round(at, 2), clock=clock)
        STRIKES[type(fault)](fault, self.context, self.done, strike)
        self.strikes.append(strike)
