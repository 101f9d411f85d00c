"""Deterministic mail for seeding: the same scenario and seed give byte-identical messages.

MIME boundaries and Message-IDs come from the seeded random generator, so content hashes are
reproducible. Messages are written from byte templates (the email package was most of the
seeding time); header values from the email package's encoders. Maildir keeps LF line ends;
IMAP serves CRLF either way.
"""

from __future__ import annotations

import datetime as dt
import random
from base64 import encodebytes
from email.base64mime import header_encode
from email.utils import encode_rfc2231, format_datetime, formataddr, parseaddr, quote
from functools import lru_cache

from ..schema.scenario import FolderSpec, MessageSpec, RawMessageSpec, UserSpec
from ..schema.sources import SeedMessage, raw_message, source_messages

CORPUS_LINES = 12_000
WORDS = (
    "migration server mailbox folder message invoice meeting report quarterly budget "
    "project review draft schedule holiday travel contract update request reply thanks "
    "Grüße Überweisung café naïve résumé日本 mañana fjord"
).split()
SENDERS = ("Ann Archer <ann@example.net>", "Bob Baker <bob@example.com>",
           "Jürgen Müller <jm@example.de>", "Carol Chen <carol@example.org>")


def folder_messages(seed: int, user: UserSpec, folder: FolderSpec) -> list[SeedMessage]:
    """The folder's messages: those of its source (the admin's files) as they are, then the
    generated ones in delivery (date) order, then the written-out ones. Each generated message
    has a random generator of its own: the same message whatever else the folder holds."""
    generated = _generated_range(seed, user, folder, range(folder.count))
    generated.sort(key=lambda message: message.internaldate)
    written = [raw_message(spec) if isinstance(spec, RawMessageSpec)
               else _written(_rng(seed, user, folder, f"w{n}"), user, folder, n, spec)
               for n, spec in enumerate(folder.messages)]
    return (source_messages(folder.source) if folder.source else []) + generated + written


def labelled(seed: int, user: UserSpec, folder: FolderSpec, count: int) -> dict[str, list[int]]:
    """Per label of the folder: which of its `count` messages (their places in
    `folder_messages`) carry it too, and so show in that label's folder as well (Gmail)."""
    return {label: _chosen(seed, user, folder, f"label {label}", share, count) for label, share in folder.labels.items()}


def pop3_deleted(seed: int, user: UserSpec, folder: FolderSpec, count: int) -> list[int]:
    """Which of the folder's `count` messages the user's POP3 client deleted (Gmail)."""
    return _chosen(seed, user, folder, "pop3 deleted", folder.pop3_deleted, count)


def _chosen(seed: int, user: UserSpec, folder: FolderSpec, what: str, share: float, count: int) -> list[int]:
    rng = _rng(seed, user, folder, what)
    return [n for n in range(count) if rng.random() < share]


def _rng(seed: int, user: UserSpec, folder: FolderSpec, n: int | str) -> random.Random:
    return random.Random(f"{seed}/{user.address}/{folder.name}/{n}")


def _generated_range(seed: int, user: UserSpec, folder: FolderSpec, numbers: range) -> list[SeedMessage]:
    return [_generated(_rng(seed, user, folder, n), seed, user, folder, n) for n in numbers]


def _generated(rng: random.Random, seed: int, user: UserSpec, folder: FolderSpec, n: int) -> SeedMessage:
    start = dt.datetime.combine(folder.dates[0], dt.time(), dt.timezone.utc)
    end = dt.datetime.combine(folder.dates[1], dt.time(23, 59, 59), dt.timezone.utc)
    date = start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds()) + 1))
    size = rng.randint(*folder.sizes)
    attachments = []
    if rng.random() < folder.attachments:
        attachments.append(("document.pdf" if rng.random() < 0.5 else "photo.jpg", max(size // 2, 64)))
        size -= attachments[0][1]
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7))).capitalize()
    raw = _compose(rng, user, folder, n, subject, rng.choice(SENDERS), date, _text(rng, size, seed), attachments)
    flags = tuple(flag for flag, share in folder.flags.items() if rng.random() < share)
    keywords = tuple(keyword for keyword, share in folder.keywords.items() if rng.random() < share)
    return SeedMessage(raw, date, flags, keywords)


def _written(rng: random.Random, user: UserSpec, folder: FolderSpec, n: int, spec: MessageSpec) -> SeedMessage:
    date = spec.date if spec.date.tzinfo else spec.date.replace(tzinfo=dt.timezone.utc)
    attachments = [(a.filename, a.size, a.content_type) for a in spec.attachments]
    raw = _compose(rng, user, folder, f"w{n}", spec.subject, spec.sender, date, spec.body, attachments,
                   spec.message_id)
    return SeedMessage(raw, date, tuple(spec.flags), tuple(spec.keywords))


@lru_cache(maxsize=4)
def _corpus(seed: int) -> str:
    """About 1 MB of text lines; message bodies are slices of it (fast and reproducible)."""
    rng = random.Random(f"{seed}/corpus")
    return "".join(" ".join(rng.choice(WORDS) for _ in range(12)) + "\n" for _ in range(CORPUS_LINES))


def _text(rng: random.Random, size: int, seed: int) -> str:
    corpus = _corpus(seed)
    size = min(size, len(corpus) // 2)
    start = corpus.index("\n", rng.randrange(len(corpus) - size - 1)) + 1
    end = corpus.rfind("\n", start, start + size) + 1
    return corpus[start:end] if end > start else corpus[start:corpus.index("\n", start) + 1]


@lru_cache(maxsize=256)
def _from_header(sender: str) -> str:
    return formataddr(parseaddr(sender), charset="utf-8")


def _subject(subject: str) -> str:
    """The Subject header's value: as written when ASCII, else RFC 2047 encoded words of at
    most 75 characters (45 bytes of UTF-8 each, never splitting a character), one per line."""
    if subject.isascii():
        return subject
    words, chunk = [], ""
    for char in subject:
        if len((chunk + char).encode()) > 45:
            words.append(chunk)
            chunk = ""
        chunk += char
    return "\n ".join(header_encode(word, "utf-8") for word in [*words, chunk])


def _filename(filename: str) -> str:
    """Content-Disposition's filename parameter: quoted (RFC 2045), RFC 2231 when not ASCII."""
    return f'filename="{quote(filename)}"' if filename.isascii() else f"filename*={encode_rfc2231(filename, 'utf-8')}"


def _compose(rng, user, folder, n, subject, sender, date, body, attachments, message_id=None) -> bytes:
    """The message's bytes, from a template: the email package took 85 % of seeding (it
    builds and flattens a tree of objects per message). Text travels 8bit in UTF-8, as most
    mail does today; attachments in base64 (RFC 2045)."""
    head = (f"From: {_from_header(sender)}\nTo: {user.address}\nSubject: {_subject(subject)}\n"
            f"Date: {format_datetime(date)}\n"  # keeps the offset the scenario wrote
            f"Message-ID: {message_id or f'<{rng.getrandbits(64):016x}.{n}@seed.maillab>'}\nMIME-Version: 1.0\n")
    text = f'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 8bit\n\n{body}'
    if not attachments:
        return (head + text).encode()
    boundary = f"=_maillab_{rng.getrandbits(48):012x}"
    parts = [text]
    for filename, size, *content_type in attachments:
        parts.append(f"Content-Type: {content_type[0] if content_type else 'application/octet-stream'}\n"
                     f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; {_filename(filename)}\n\n"
                     + encodebytes(rng.randbytes(size)).decode("ascii"))
    return (head + f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            + "".join(f"--{boundary}\n{part}\n" for part in parts) + f"--{boundary}--\n").encode()
