"""Commands for lab machines: an argv, the text shown for it, and the secrets to mask.

There is no other way to run something in a lab machine. A value never becomes part of a
shell string: where a pipe or a redirection is the point, `Command.script` runs a fixed script
text and hands values to it as positional parameters ($1, "$@").
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

MASK = "***"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    display: str
    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, *argv: str, secrets: Iterable[str] = (), display: str | None = None) -> Command:
        return cls(tuple(argv), display or shlex.join(argv), tuple(secrets))

    @classmethod
    def script(cls, script: str, *args: str, secrets: Iterable[str] = (), display: str | None = None) -> Command:
        """`sh -c SCRIPT sh ARGS...`: the script sees ARGS as $1, $2, "$@"."""
        shown = display or f"sh -c {shlex.quote(script)}" + (f" sh {shlex.join(args)}" if args else "")
        return cls(("sh", "-c", script, "sh", *args), shown, tuple(secrets))

    def shown(self, more_secrets: Iterable[str] = ()) -> str:
        return mask(self.display, (*self.secrets, *more_secrets))


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***, the longest first (one may contain another)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
