"""LDIF for the LDAP user store, pure: the scenario's templates rendered into entries, and
LDIF read back (the admin's schema file, ldapsearch's and slapcat's output).

A template holds one or more entries with placeholders ({address}, {domain}, ...; `{{` and `}}`
are literal braces, runner/schema/stores.py checks the names). A value put into a `dn:` line is
escaped as RFC 4514 says (`,` `+` `"` `\\` `<` `>` `;` `=`, a leading `#` or space, a trailing
space); a line whose value then is not an LDIF SAFE-STRING (RFC 2849: not ASCII, a leading
space, colon or `<`, a line break, a trailing space) is written base64-encoded as `attr:: ...`.
So an address, a hash or a path reaches slapd as the value it is, whatever it holds: a value
never becomes LDIF syntax.
"""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Mapping

# RFC 2849: SAFE-INIT-CHAR then SAFE-CHARs; trailing spaces SHOULD be base64 too
SAFE_STRING = re.compile(r"(?:[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*)?")
LINE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9;.-]*)(?P<colons>::?)[ ]*(?P<value>.*)$")
DN_SPECIAL = re.compile(r'([,+"\\<>;=])')


class LdifError(ValueError):
    """A template or an LDIF file that is not LDIF as the lab reads it."""


def escape_dn_value(value: str) -> str:
    """An attribute value as it stands in a DN (RFC 4514, section 2.4)."""
    escaped = DN_SPECIAL.sub(r"\\\1", value).replace("\0", "\\00")
    if value.startswith((" ", "#")):
        escaped = "\\" + escaped
    if value.endswith(" ") and len(value) > 1:  # a lone space is escaped as the leading one
        escaped = escaped[:-1] + "\\ "
    return escaped


def line_of(name: str, value: str) -> str:
    """`name: value`, or `name:: base64` when the value is not an LDIF SAFE-STRING."""
    if SAFE_STRING.fullmatch(value) and not value.endswith(" "):
        return f"{name}: {value}" if value else f"{name}:"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def unfolded(text: str) -> list[str]:
    """The logical lines of LDIF text: a line starting with one space continues the one before
    (RFC 2849), a comment's too, and then comments go."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw.startswith(" ") and lines and lines[-1]:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    return [line for line in lines if not line.startswith("#")]


def render(template: str, values: Mapping[str, str]) -> str:
    """The entries of `template` with each placeholder replaced by its value in `values`:
    escaped in `dn:` lines, whole values base64 where LDIF needs it."""
    out = []
    for line in unfolded(template):
        if not line.strip():
            out.append("")
            continue
        match = LINE.match(line)
        if not match:
            raise LdifError(f"not an LDIF line: {line!r}")
        name, colons, value = match.group("name"), match.group("colons"), match.group("value")
        if colons == "::":  # the template's own base64: taken as written
            out.append(line)
            continue
        is_dn = name.lower() == "dn"
        parts = []
        for literal, key, _, _ in string.Formatter().parse(value):
            parts.append(literal)
            if key is not None:
                if key not in values:
                    raise LdifError(f"placeholder {{{key}}} has no value here")
                parts.append(escape_dn_value(values[key]) if is_dn else values[key])
        out.append(line_of(name, "".join(parts)))
    return "\n".join(out).strip("\n") + "\n"


def entries(text: str) -> list[list[tuple[str, str]]]:
    """The entries of LDIF text, each its (attribute, value) pairs in order, the first `dn`;
    base64 values decoded. A `version:` line and `changetype`-less records only (what slapcat,
    ldapsearch -LLL and an admin's schema file hold)."""
    records: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in [*unfolded(text), ""]:
        if not line.strip():
            if current:
                records.append(current)
                current = []
            continue
        match = LINE.match(line)
        if not match or match.group("value").startswith("<"):
            raise LdifError(f"not an LDIF line the lab reads: {line[:80]!r}")
        name, value = match.group("name"), match.group("value")
        if match.group("colons") == "::":
            value = base64.b64decode(value).decode("utf-8", errors="backslashreplace")
        if not current and name.lower() == "version":
            continue
        if not current and name.lower() != "dn":
            raise LdifError(f"an entry starts with {name!r}, not dn")
        current.append((name, value))
    return records


def text_of(entry: list[tuple[str, str]]) -> str:
    """One entry as LDIF again (values base64 where LDIF needs it)."""
    return "\n".join(line_of(name, value) for name, value in entry) + "\n"


def dn_of(entry: list[tuple[str, str]]) -> str:
    return entry[0][1]
