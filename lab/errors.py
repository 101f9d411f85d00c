"""Errors the lab raises. Each becomes one line for the user and exit code 3."""


class LabError(Exception):
    """The lab or its infrastructure failed (Docker, images, a host that never got ready)."""


class HostNotReady(LabError):
    """A mail host did not pass its readiness checks; the message ends with its log tail."""


class ConfigRefused(LabError):
    """Old's Dovecot or Postfix refuses the admin's own configuration: the lab cannot stand
    in for the admin's server. Bad input (exit 2), one line with file:line."""


class WaitTimeout(LabError):
    """A wait ran past its deadline; the message names what was awaited and the last error."""

    def __init__(self, what: str, seconds: float, last_error: str) -> None:
        super().__init__(f"{what}: still not done after {seconds:.0f} s ({last_error})")
        self.last_error = last_error


class ExecTimeout(LabError):
    """A command in a lab machine ran past its timeout and was killed."""


class EngineGone(LabError):
    """The Docker engine stopped answering: it was stopped, or its socket or the connection to
    it went away. Whatever the lab made may be left; the message says so where it matters."""


def engine_gone(error: BaseException) -> bool:
    """Whether `error` is the Docker engine not answering (no connection, a connection cut, no
    reply), as docker, requests and urllib3 raise it; an answer of the engine's (APIError:
    not found, conflict) is not."""
    import docker.errors  # noqa: PLC0415  (the CLI imports this module, and needs no Docker to validate)
    import requests.exceptions  # noqa: PLC0415
    import urllib3.exceptions  # noqa: PLC0415

    if isinstance(error, docker.errors.APIError):
        return False
    # TimeoutError: the engine took longer than the client's timeout to answer a call
    return isinstance(error, (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                              docker.errors.DockerException, ConnectionError, TimeoutError))


def _reason(error: BaseException) -> str:
    """The innermost cause a person can read: 'Connection refused', 'Remote end closed
    connection without response', not a chain of reprs."""
    seen: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop(0)
        if current in seen:
            continue
        seen.append(current)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (getattr(current, "reason", None), current.__cause__, current.__context__)
                    if isinstance(e, BaseException)]
    for candidate in reversed(seen):
        if isinstance(candidate, OSError) and candidate.strerror:
            return candidate.strerror
    text = " ".join(str(seen[-1]).split()) or type(seen[-1]).__name__
    return text.split(">: ")[-1]  # urllib3 starts with the connection object's repr


def engine_gone_error(error: BaseException, what: str = "") -> EngineGone:
    from .engine import docker_host  # noqa: PLC0415  (engine.py raises LabError)

    engine = docker_host() or "unix:///var/run/docker.sock"
    fate = "did not answer in time" if isinstance(error, TimeoutError) else "went away"
    return EngineGone(f"the Docker engine {fate} ({engine}: {_reason(error)})" + (f" while {what}" if what else ""))


class talking_to_the_engine:  # noqa: N801  (used as a context manager and a decorator, like contextlib's)
    """Around Docker calls: the engine not answering becomes EngineGone naming `what` was
    being done; everything else passes unchanged."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if error is not None and not isinstance(error, LabError) and isinstance(error, Exception) and engine_gone(error):
            raise engine_gone_error(error, self.what) from error
        return False

    def __call__(self, function):
        import functools  # noqa: PLC0415

        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            with talking_to_the_engine(self.what.format(*args) if "{" in self.what else self.what):
                return function(*args, **kwargs)
        return wrapped
