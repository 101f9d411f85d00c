"""Errors the lab raises. Each becomes one line for the user and its own exit code."""


class LabError(Exception):
    """The lab or its infrastructure failed (Docker, images, a host that never got ready)."""


class HostNotReady(LabError):
    """A mail host did not pass its readiness checks; the message ends with its log tail."""
