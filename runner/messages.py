"""Deterministic mail for seeding: the same scenario and seed give byte-identical messages.

Python's email package picks random MIME boundaries and Message-IDs; both are set here from
the seeded random generator so that content hashes are reproducible. The compat32 MIME classes
are used because the modern EmailMessage API parses every header it is given, which made
seeding ten times slower. Maildir keeps LF line ends; IMAP serves CRLF either way.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from email.encoders import encode_base64
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from itertools import repeat

from maillab.runner.scenario import FolderSpec, MessageSpec, UserSpec

CORPUS_LINES = 12_000
PARALLEL_FROM = 1_000  # messages in a folder; below this, starting workers costs more than it saves
CHUNK = 500
WORDS = (
    "migration server mailbox folder message invoice meeting report quarterly budget "
    "project review draft schedule holiday travel contract update request reply thanks "
    "Grüße Überweisung café naïve résumé日本 mañana fjord"
).split()
SENDERS = ("Ann Archer <ann@example.net>", "Bob Baker <bob@example.com>",
           "Jürgen Müller <jm@example.de>", "Carol Chen <carol@example.org>")


@dataclass(frozen=True)
class SeedMessage:
    raw: bytes
    internaldate: dt.datetime
    flags: tuple[str, ...]
    keywords: tuple[str, ...]


def folder_messages(seed: int, user: UserSpec, folder: FolderSpec) -> list[SeedMessage]:
    """The folder's messages, generated ones first, in delivery (date) order. Each message has
    a random generator of its own, so big folders are generated on every core."""
    if folder.count >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        chunks = [range(start, min(start + CHUNK, folder.count)) for start in range(0, folder.count, CHUNK)]
        with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("fork")) as pool:
            parts = pool.map(_generated_range, repeat(seed), repeat(user), repeat(folder), chunks)
            generated = [message for part in parts for message in part]
    else:
        generated = _generated_range(seed, user, folder, range(folder.count))
    generated.sort(key=lambda message: message.internaldate)
    written = [_written(_rng(seed, user, folder, f"w{n}"), user, folder, n, spec)
               for n, spec in enumerate(folder.messages)]
    return generated + written


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


def _compose(rng, user, folder, n, subject, sender, date, body, attachments, message_id=None) -> bytes:
    text = MIMEText(body, "plain", "utf-8")
    if attachments:
        message = MIMEMultipart("mixed", boundary=f"=_maillab_{rng.getrandbits(48):012x}")
        message.attach(text)
        for filename, size, *content_type in attachments:
            maintype, subtype = (content_type[0] if content_type else "application/octet-stream").split("/", 1)
            part = MIMEBase(maintype, subtype)
            part.set_payload(rng.randbytes(size))
            encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=filename)
            message.attach(part)
    else:
        message = text
    message["From"] = _from_header(sender)
    message["To"] = user.address
    message["Subject"] = Header(subject, "utf-8") if not subject.isascii() else subject
    message["Date"] = format_datetime(date)  # keeps the offset the scenario wrote
    message["Message-ID"] = message_id or f"<{rng.getrandbits(64):016x}.{n}@seed.maillab>"
    return message.as_bytes()
