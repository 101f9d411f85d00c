"""The one way the lab waits: try something until it works or a deadline passes.

`attempt` returns a value when done. Any exception means "not yet" and its text is kept as
the last error, except a LabError, which is final (a container that exited, a command that
hung) and ends the wait at once. Past the deadline, WaitTimeout names what was awaited and
the last error (docker-mailserver's test helpers wait the same way, with one helper).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .errors import LabError, WaitTimeout

T = TypeVar("T")


class NotYet(Exception):
    """Raised by an attempt that ran fine but whose condition does not hold yet."""


def poll(what: str, attempt: Callable[[], T], *, timeout: float, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except LabError:
            raise
        except Exception as error:  # noqa: BLE001  any other failure means "not yet"
            last_error = str(error) or type(error).__name__
        if time.monotonic() + interval > deadline:
            raise WaitTimeout(what, timeout, last_error)
        time.sleep(interval)
