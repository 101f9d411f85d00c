"""Ctrl-C, SIGTERM and SIGHUP end a rehearsal the same way: the lab is removed (or kept with
--keep), the reports are written, and the exit code is 128 + the signal's number.

A signal that arrives while the lab is being removed is held until the removal is done: a
second Ctrl-C must not leave half a lab behind.
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


def install() -> None:
    # Python leaves SIGINT ignored when it starts ignored (a job started in the background by
    # a script); a rehearsal must still tear its lab down on Ctrl-C.
    for signum in HANDLED:
        signal.signal(signum, _raise)


@contextmanager
def held() -> Iterator[list[int]]:
    """Signals that arrive inside are noted (in the yielded list), not raised."""
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived  # only the main thread receives signals
        return
    previous = {signum: signal.signal(signum, lambda s, _f: arrived.append(s)) for signum in HANDLED}
    try:
        yield arrived
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
