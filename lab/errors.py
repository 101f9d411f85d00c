"""Errors the lab raises. Each becomes one line for the user and exit code 3."""


class LabError(Exception):
    """The lab or its infrastructure failed (Docker, images, a host that never got ready)."""


class HostNotReady(LabError):
    """A mail host did not pass its readiness checks; the message ends with its log tail."""


class WaitTimeout(LabError):
    """A wait ran past its deadline; the message names what was awaited and the last error."""

    def __init__(self, what: str, seconds: float, last_error: str) -> None:
        super().__init__(f"{what}: still not done after {seconds:.0f} s ({last_error})")
        self.last_error = last_error


class ExecTimeout(LabError):
    """A command in a lab machine ran past its timeout and was killed."""
