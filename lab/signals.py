"""Ctrl-C, SIGTERM and SIGHUP end a rehearsal the same way: the lab is removed (or kept with
--keep), the reports are written, and the exit code is 128 + the signal's number.

A signal that arrives while the lab is being removed is held until the removal is done: a
second Ctrl-C must not leave half a lab behind. One that arrives while Docker is asked to
create something is held until Docker has answered (`deferred`), so that what it made is known
and removed. One that arrives while the program's own modules load is held (blocked) until
the handlers are installed, and once the outcome is decided (`settle`) a signal changes
nothing, up to the process's end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal asked the runner to stop (a KeyboardInterrupt, so libraries treat it as one)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def hold_until_installed() -> None:
    """Block the signals (the kernel keeps them pending) until `install`: the first thing the
    program does, before its imports, so that a Ctrl-C during them ends it the same way."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def install() -> None:
    # Python leaves SIGINT ignored when it starts ignored (a job started in the background by
    # a script); a rehearsal must still tear its lab down on Ctrl-C.
    for signum in HANDLED:
        signal.signal(signum, _raise)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)  # one held since the start is raised now


def settle() -> None:
    """The outcome is decided (the lab is gone or kept, the exit code known): a signal that
    arrives while the program exits changes nothing. Ignored, not handled: the interpreter's
    finalization gives a signal with a Python handler back its default action (_PySignal_Fini),
    and a Ctrl-C then killed a run that had passed (CI, 2026-12-05)."""
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def held() -> Iterator[list[int]]:
    """Signals that arrive inside are noted (in the yielded list), not raised."""
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived  # only the main thread receives signals
        return
    # blocked while the handlers are swapped: one arriving in between must not be raised
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    try:
        previous = {signum: signal.signal(signum, lambda s, _f: arrived.append(s)) for signum in HANDLED}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    try:
        yield arrived
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Around a request that makes something (a network, a container): a signal that arrives
    meanwhile is raised once the request is answered, as Interrupted."""
    with held() as arrived:
        yield
    if arrived:
        raise Interrupted(arrived[0])
