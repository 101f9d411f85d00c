"""Mail from the admin's own files: a Maildir folder or Maildir++ tree, an mbox file, a
directory of .eml files, read where they are (nothing is copied elsewhere) into SeedMessages.

The bytes are the file's, unchanged: IMAP serves them with bare LF turned into CRLF, as it
does for seeded mail. Python's `mailbox` module does the reading; flags and dates are taken
as Dovecot and Python's own Maildir conversion (`mboxMessage._explain_to`) take them:

- Maildir: the info after `:2,` (D F R S T = \\Draft \\Flagged \\Answered \\Seen \\Deleted;
  P has no IMAP flag), keyword letters a-z by the folder's `dovecot-keywords` file, and the
  file's mtime as INTERNALDATE (Dovecot's received date for Maildir).
- mbox: `Status`/`X-Status` letters (R \\Seen, A \\Answered, F \\Flagged, D \\Deleted, and
  Dovecot's T \\Draft), `X-Keywords` (Dovecot's), the `From ` line's date (asctime, taken as
  UTC) as INTERNALDATE. Python does no `>From ` unquoting (neither mboxo nor mboxrd) and
  neither does Dovecot's mbox driver, so a quoted line stays quoted. The status headers stay
  in the message as they are in the file.
- .eml: INTERNALDATE from the Date header, else the file's mtime; no flags.

Only regular files are read. Inside a Maildir tree or an .eml directory a symbolic link (it
may point anywhere: ~/.ssh/id_rsa would be copied into the lab), a FIFO (opening it waits
for a writer) or a device (/dev/zero never ends) is refused, naming it; each entry is
lstat'ed before anything opens it.
"""

from __future__ import annotations

import datetime as dt
import errno
import mailbox
import os
import re
import stat
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from imapclient import imap_utf7

from .scenario import MailSource, RawMessageSpec, split_body
from .vocabulary import MAILDIR_FLAG_LETTERS, MAILDIR_KEYWORD_LETTERS, SYSTEM_FLAGS

MAILDIR_FLAGS = {letter: flag for flag, letter in MAILDIR_FLAG_LETTERS.items()}
MBOX_FLAGS = {"R": "\\Seen", "A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted", "T": "\\Draft"}
FROM_LINE_DATE = "%a %b %d %H:%M:%S %Y"  # asctime, as Python's mailbox reads it
RAW_DATE = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)  # a raw message without date or Date header


class IrregularFile(Exception):
    """A file a source would read is not a regular file: one line naming it."""


def irregular(path: Path, read_from: str = "mail files") -> str | None:
    """What `path` is, when it is not a regular file (not followed if it is a link)."""
    mode = os.lstat(path).st_mode
    if stat.S_ISREG(mode):
        return None
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a directory" if stat.S_ISDIR(mode)
            else "a socket")
    return f"{path}: {kind}; only regular files are read from {read_from}"


def check_source(kind: str, path: Path) -> None:
    """Refuse (IrregularFile) anything but regular files among what reading the source opens:
    a Maildir's cur/ and new/ (real directories) and their entries, its dovecot-keywords; an
    .eml directory's *.eml entries; an mbox file."""
    if kind == "mbox":
        files = [path]
    elif kind == "eml":
        files = sorted(path.glob("*.eml"))
    else:
        files = [path / "dovecot-keywords"] if os.path.lexists(path / "dovecot-keywords") else []
        for sub in ("cur", "new"):
            if not stat.S_ISDIR(os.lstat(path / sub).st_mode):
                raise IrregularFile(f"{path / sub}: not a directory (a symbolic link?); a Maildir's own is read")
            files += sorted(Path(entry.path) for entry in os.scandir(path / sub)
                            if not entry.is_dir(follow_symlinks=False))
    for file in files:
        if problem := irregular(file):
            raise IrregularFile(problem)


def read_regular(path: Path, *, follow: bool = True) -> bytes:
    """A file's bytes, once the open file shows to be a regular file. Opened without blocking
    (a FIFO would wait for a writer) and, unless `follow`, not through a symbolic link."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise IrregularFile(f"{path}: a symbolic link; only regular files are read from mail files") from None
        raise
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise IrregularFile(f"{path}: not a regular file")
        return file.read()


@dataclass(frozen=True)
class SeedMessage:
    raw: bytes
    internaldate: dt.datetime
    flags: tuple[str, ...]
    keywords: tuple[str, ...]


class _RawMaildirMessage(mailbox.MaildirMessage):
    """A Maildir message kept as the file's bytes: Maildir fills in subdir, info and date."""

    def __init__(self, file) -> None:
        super().__init__()
        self.raw = file.read()


def source_messages(source: MailSource) -> list[SeedMessage]:
    """The messages of a folder's source (its path made absolute by the loader)."""
    reader = {"maildir": maildir_messages, "mbox": mbox_messages, "eml": eml_messages}[source.kind]
    check_source(source.kind, Path(source.path))
    return reader(Path(source.path))


def source_bytes(kind: str, path: Path) -> int:
    """What a source's messages take (their files' sizes): the room they need on a host."""
    if kind == "mbox":
        return path.stat().st_size
    files = [*path.glob("cur/*"), *path.glob("new/*")] if kind == "maildir" else [*path.glob("*.eml")]
    return sum(info.st_size for info in map(os.lstat, files) if stat.S_ISREG(info.st_mode))


def raw_message(spec: RawMessageSpec) -> SeedMessage:
    """A raw message of the scenario, its body repeated up to `size` bytes when given."""
    raw = spec.raw if spec.raw is not None else read_regular(Path(spec.raw_file))
    head, body = split_body(raw)
    if spec.size:
        raw = head + (body * -(-(spec.size - len(head)) // len(body)))[: spec.size - len(head)]
    date = spec.date or _header_date(BytesHeaderParser().parsebytes(head)) \
        or (_mtime(Path(spec.raw_file)) if spec.raw_file else RAW_DATE)
    return SeedMessage(raw, date if date.tzinfo else date.replace(tzinfo=dt.timezone.utc),
                       tuple(spec.flags), tuple(spec.keywords))


def maildir_messages(path: Path) -> list[SeedMessage]:
    """One Maildir folder (the directory holding cur/ and new/), in file-name order."""
    letters = maildir_keyword_letters(path)
    box = mailbox.Maildir(path, factory=_RawMaildirMessage, create=False)
    messages = []
    for key in sorted(key for key in box.keys() if not key.startswith(".")):  # Dovecot skips dot files too
        message = box.get_message(key)  # (indexing would bypass what get_message fills in)
        info = message.get_flags()
        messages.append(SeedMessage(
            raw=message.raw,
            internaldate=dt.datetime.fromtimestamp(message.get_date(), dt.timezone.utc),
            flags=_ordered(MAILDIR_FLAGS[letter] for letter in info if letter in MAILDIR_FLAGS),
            keywords=tuple(sorted(letters[letter] for letter in info if letter in letters)),
        ))
    return messages


def maildir_keyword_letters(path: Path) -> dict[str, str]:
    """Keyword letter -> keyword, from the folder's dovecot-keywords ('0 $Forwarded' is a)."""
    table = path / "dovecot-keywords"
    if not os.path.lexists(table):
        return {}
    letters = {}
    for line in read_regular(table, follow=False).decode("utf-8", errors="replace").splitlines():
        number, _, keyword = line.partition(" ")
        if number.isdigit() and int(number) < len(MAILDIR_KEYWORD_LETTERS) and keyword:
            letters[MAILDIR_KEYWORD_LETTERS[int(number)]] = keyword
    return letters


def maildir_tree(root: Path) -> dict[str, Path]:
    """The folders of a Maildir++ tree by IMAP name: the root is INBOX, `.A.B` is A/B, each
    level in modified UTF-7. A directory counts as a folder when it holds cur/."""
    folders = {"INBOX": root} if (root / "cur").is_dir() else {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith(".") and entry.is_symlink():
            raise IrregularFile(f"{entry.path}: a symbolic link; a Maildir++ tree's folders are read only as "
                                "directories of their own")
        if entry.name.startswith(".") and entry.name not in (".", "..") and entry.is_dir() \
                and Path(entry.path, "cur").is_dir():
            folders[maildir_folder_name(entry.name)] = Path(entry.path)
    return folders


# 2.3's listescape (with '\\') and 2.4's storage escape character write a '.' in a name as \2e
ESCAPED = re.compile(r"\\([0-9a-f]{2})")


def maildir_folder_name(directory: str) -> str:
    """The IMAP name of a Maildir++ folder directory ('.Archive.2023' -> 'Archive/2023',
    '.Mr\\2e Smith' -> 'Mr. Smith')."""
    return "/".join(imap_utf7.decode(ESCAPED.sub(lambda found: chr(int(found.group(1), 16)), part)
                                     .encode("ascii", errors="replace"))
                    for part in directory.removeprefix(".").split("."))


def mbox_messages(path: Path) -> list[SeedMessage]:
    box = mailbox.mbox(path, create=False)
    messages = []
    try:
        for key in box.keys():
            with_from = box.get_bytes(key, from_=True)
            from_line, _, raw = with_from.partition(b"\n")
            headers = BytesHeaderParser().parsebytes(raw)
            letters = (headers.get("Status", "") or "") + (headers.get("X-Status", "") or "")
            messages.append(SeedMessage(
                raw=raw,
                internaldate=_from_line_date(from_line) or _header_date(headers) or _mtime(path),
                flags=_ordered(MBOX_FLAGS[letter] for letter in letters if letter in MBOX_FLAGS),
                keywords=tuple(sorted(set(str(headers.get("X-Keywords", "") or "").split()))),
            ))
    finally:
        box.close()
    return messages


def eml_messages(directory: Path) -> list[SeedMessage]:
    """Every *.eml file of the directory, in name order."""
    messages = []
    for path in sorted(directory.glob("*.eml")):
        raw = read_regular(path, follow=False)
        headers = BytesHeaderParser().parsebytes(raw)
        messages.append(SeedMessage(raw, _header_date(headers) or _mtime(path), (), ()))
    return messages


def _ordered(flags) -> tuple[str, ...]:
    found = set(flags)
    return tuple(flag for flag in SYSTEM_FLAGS if flag in found)


def _from_line_date(from_line: bytes) -> dt.datetime | None:
    """The date of `From sender Sat Jan  3 01:05:34 1996`: its last five words, as UTC."""
    words = from_line.decode("ascii", errors="replace").split()[-5:]
    try:
        parsed = time.strptime(" ".join(words), FROM_LINE_DATE)
    except ValueError:
        return None
    return dt.datetime(*parsed[:6], tzinfo=dt.timezone.utc)


def _header_date(headers) -> dt.datetime | None:
    try:
        date = parsedate_to_datetime(str(headers.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return date if date.tzinfo else date.replace(tzinfo=dt.timezone.utc)


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


# An admin's configuration folder (hosts.<role>.config, docs/own-server.md): what it may hold.
CONFIG_PARTS = {"dovecot": "dovecot.conf", "postfix": "main.cf"}  # folder -> the file it must hold
CONFIG_MAX_FILES = 500
CONFIG_MAX_BYTES = 4 * 2**20


# What `maillab capture --config` writes beside dovecot/ and postfix/ for the admin to read
# (what doveconf -n, postconf -n and postconf -M said, and what it skipped): a host ignores them.
DOVECONF_N, POSTCONF_N, POSTCONF_M, SKIPPED = CAPTURE_NOTES = (
    "doveconf-n.txt", "postconf-n.txt", "postconf-M.txt", "skipped.txt")


def config_files(root: Path) -> dict[str, bytes]:
    """The files of a configuration folder by their path in it ('dovecot/conf.d/10-mail.conf'):
    dovecot/ with dovecot.conf, and optionally postfix/ with main.cf; regular files and real
    directories only, bounded. Raises IrregularFile or ValueError with one line."""
    if not (root / "dovecot" / "dovecot.conf").is_file():
        raise ValueError(f"{root}: no dovecot/dovecot.conf in it (a folder holding dovecot/ and optionally postfix/)")
    files: dict[str, bytes] = {}
    for part, required in CONFIG_PARTS.items():
        top = root / part
        if not os.path.lexists(top):
            continue
        if not stat.S_ISDIR(os.lstat(top).st_mode):
            raise IrregularFile(f"{top}: not a directory (a symbolic link?)")
        if not (top / required).is_file():
            raise ValueError(f"{top}: no {required} in it")
        for directory, subdirectories, names in os.walk(top):
            for name in sorted([*names, *subdirectories]):
                path = Path(directory) / name
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    continue
                if problem := irregular(path, "a configuration folder"):
                    raise IrregularFile(problem)
                files[path.relative_to(root).as_posix()] = read_regular(path, follow=False)
                if len(files) > CONFIG_MAX_FILES or sum(map(len, files.values())) > CONFIG_MAX_BYTES:
                    raise ValueError(f"{root}: more than {CONFIG_MAX_FILES} files or {CONFIG_MAX_BYTES} bytes; "
                                     "a server's configuration is far smaller")
    unknown = sorted(p.name for p in root.iterdir() if p.name not in CONFIG_PARTS and p.name not in CAPTURE_NOTES)
    if unknown:
        raise ValueError(f"{root}: {', '.join(unknown)}: a configuration folder holds dovecot/ and postfix/ only "
                         f"(and the notes capture --config writes: {', '.join(CAPTURE_NOTES)})")
    return dict(sorted(files.items()))
