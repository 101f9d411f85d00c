"""The seed cache (docs/cache.md: what an entry holds, its key, where it lives, its cap): old
as seeding and its baseline left it, kept on disk, so that a rehearsal of the same scenario,
seed and image restores it (one archive put and a database load) instead of seeding and
snapshotting again. An entry is written whole or not at all: made aside, then renamed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ...lab.command import Command
from ...lab.containers import PASSWD_FILE, VMAIL
from ..schema.scenario import RawMessageSpec, Scenario
from ..schema.vocabulary import DATABASES
from .on_disk import read_snapshot, write_snapshot
from .state import HostState

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "MAILLAB_CACHE_DIR"
CACHE_MB_ENV = "MAILLAB_CACHE_MB"
DEFAULT_CAP_MB = 2048
# What an entry holds and how seeding writes old: raise it when either changes, and older
# entries are never read again (eviction removes them in time). 2: baseline.json a user a line.
FORMAT = 2
# What a scenario says that neither seeding nor the baseline reads: the migration and its judging.
NOT_SEEDED = {"name", "description", "steps", "idempotence", "expect", "faults", "resume"}
ARCHIVE, USERS, RECORD, BASELINE = "seed.tar", "users", "entry.json", "baseline.json"
STAGE = "/tmp/maillab-seed"  # on old: not under the tmpfs /var/vmail, which Docker's archives do not reach
SAVE = f"""set -e
rm -rf {STAGE}; mkdir -m 0700 {STAGE}
mysqldump --result-file={STAGE}/db.sql --databases "$@"
tar -C {VMAIL} -cf {STAGE}/mail.tar ."""
RESTORE = f"""set -e
tar -C {VMAIL} -xpf {STAGE}/mail.tar
mysql < {STAGE}/db.sql
rm -rf {STAGE}"""


def why_not(scenario: Scenario) -> str | None:
    """Why restoring old would not make the host seeding makes, or None when it would."""
    old = scenario.hosts["old"]
    if old.server != "dovecot":
        return f"old runs {old.server}, seeded over IMAP into a store of its own"
    if old.config:
        return ("old runs the admin's own configuration (hosts.old.config), whose Dovecot may keep indexes and "
                "UIDVALIDITYs outside /var/vmail")
    return None


def cache_key(scenario: Scenario, image: str) -> str:
    """The scenario as seeding reads it (old, the users, their mail and the seed), old's image
    id, and the content of the files the users' mail comes from."""
    data = scenario.model_dump(exclude=NOT_SEEDED, by_alias=True)
    data["hosts"] = {"old": data["hosts"]["old"]}  # new starts empty whatever it is
    text = json.dumps({"format": FORMAT, "image": image, "scenario": data}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode())
    for path in _mail_files(scenario):
        digest.update(_file_digest(Path(path)))
    return digest.hexdigest()[:32]


def _mail_files(scenario: Scenario) -> list[str]:
    folders = [folder for user in scenario.users for folder in user.folders]
    return sorted({folder.source.path for folder in folders if folder.source}
                  | {message.raw_file for folder in folders for message in folder.messages
                     if isinstance(message, RawMessageSpec) and message.raw_file})


def _file_digest(path: Path) -> bytes:
    """A file's or a tree's names, mtimes (a Maildir file's is its INTERNALDATE) and content."""
    digest = hashlib.sha256(str(path).encode())
    for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if file.is_file():
            digest.update(f"\0{file.relative_to(path) if file != path else ''}\0{file.stat().st_mtime_ns}\0".encode())
            digest.update(file.read_bytes())
    return digest.digest()


@dataclass(frozen=True)
class Restored:
    passwords: dict[str, str]
    baseline: HostState  # without its database rows
    written: int


@dataclass(frozen=True)
class Entry:
    key: str
    size: int  # bytes
    last_used: float  # the folder's mtime


class SeedCache:
    def __init__(self, root: Path | None = None, cap_mb: int | None = None) -> None:
        self.root = root or cache_dir()
        self.cap = (cap_mb if cap_mb is not None else int(os.environ.get(CACHE_MB_ENV, DEFAULT_CAP_MB))) * 2**20

    def key_for(self, host, scenario: Scenario) -> str | None:
        """The key of old's entry, or None where restoring is not sound (logged, with why)."""
        if reason := why_not(scenario):
            log.info("seed cache not used: %s", reason)
            return None
        return cache_key(scenario, host.image_id())

    def restore(self, host, key: str) -> Restored | None:
        """Old as its entry holds it, or None when there is none."""
        folder = self.root / key
        try:
            record = json.loads((folder / RECORD).read_text())
            baseline = read_snapshot(folder / BASELINE)
            users = (folder / USERS).read_bytes() if host.spec.user_store == "passwd-file" else None
            os.utime(folder)  # its last use, which eviction goes by
            host.put_saved_archive(STAGE.rpartition("/")[0], folder / ARCHIVE)
        except FileNotFoundError:  # none, or evicted by another rehearsal meanwhile
            return None
        host.run_checked(Command.script(RESTORE, display=f"tar -C {VMAIL} -xpf mail.tar; mysql < db.sql"),
                         f"restoring old from the seed cache's entry {key} (maillab run --no-cache seeds instead, "
                         "maillab cache clear removes it)")
        if users is not None:
            host.install_users_file(users)
        host.wait_for_users(list(record["passwords"]))
        return Restored(record["passwords"], baseline, record["written"])

    def save(self, host, key: str, passwords: dict[str, str], baseline: HostState, written: int) -> None:
        """Keep old as it is now (seeded, and as its baseline saw it) under `key`, then evict."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        aside = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        try:
            host.run_checked(Command.script(SAVE, *DATABASES, display=f"tar -C {VMAIL} -cf mail.tar .; mysqldump "
                                            f"--databases {' '.join(DATABASES)}"), "saving old for the seed cache")
            host.save_archive(STAGE, aside / ARCHIVE)
            host.run_checked(Command.of("rm", "-rf", STAGE), "removing the seed cache's files on old")
            if host.spec.user_store == "passwd-file":
                (aside / USERS).write_bytes(host.read_file(PASSWD_FILE))
            (aside / RECORD).write_text(json.dumps({"passwords": passwords, "written": written}))
            write_snapshot(baseline.model_copy(update={"user_db": {}}), aside / BASELINE)
            for file in aside.iterdir():  # the passwords, and the mail they open
                file.chmod(0o600)
            aside.rename(self.root / key)
        except OSError as error:  # another rehearsal kept the same entry first, or the disk is full
            log.info("seed cache: %s not kept: %s", key, error)
            return
        finally:  # what is still aside (an error, a signal) is no entry
            shutil.rmtree(aside, ignore_errors=True)
        log.info("seed cache: old kept as %s", key)
        self.evict()

    def entries(self) -> list[Entry]:
        """Every entry, least recently used first."""
        found = []
        for folder in self.root.glob("[0-9a-f]*") if self.root.is_dir() else []:
            try:
                found.append(Entry(folder.name, sum(f.stat().st_size for f in folder.iterdir()), folder.stat().st_mtime))
            except FileNotFoundError:  # evicted meanwhile
                continue
        return sorted(found, key=lambda entry: entry.last_used)

    def evict(self) -> list[Entry]:
        """Remove the least recently used entries until the cache holds at most its cap."""
        entries = self.entries()
        total, evicted = sum(entry.size for entry in entries), []
        for entry in entries:
            if total <= self.cap:
                break
            shutil.rmtree(self.root / entry.key, ignore_errors=True)
            total -= entry.size
            evicted.append(entry)
            log.info("seed cache: evicted %s (%d MB, last used %s)", entry.key, entry.size // 2**20,
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used)))
        return evicted

    def clear(self) -> int:
        """Remove every entry (and what a rehearsal left half-written); returns how many entries."""
        count = len(self.entries())
        if self.root.is_dir():
            for folder in self.root.iterdir():
                shutil.rmtree(folder, ignore_errors=True)
        return count


def cache_dir() -> Path:
    if given := os.environ.get(CACHE_DIR_ENV):
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "maillab"
