"""Seeding: put a scenario's users, mail and Sieve scripts onto a host.

Mail is written straight into Maildir (file mtime = INTERNALDATE, flags and keywords in the
file name, a dovecot-keywords file per folder), which is how a long-lived server looks on
disk and is far faster than APPENDing. Maildir names 26 keywords per folder with letters;
Dovecot keeps any further ones in its index, so they are set with `doveadm flags` once the
folder is in place. An mdbox host gets the same Maildir staged aside and converted with
`doveadm backup`. Database rows go in through SQL parameters.
"""

from __future__ import annotations

import io
import logging
import random
import tarfile
from collections import defaultdict
from dataclasses import dataclass, field

from ...lab.command import Command
from ...lab.containers import VMAIL, VMAIL_UID, vmail_home
from ...lab.errors import LabError
from ...lab.stores import store_of
from ..schema.scenario import HostSpec, RoundcubeSpec, Scenario, UserSpec
from ..schema.vocabulary import MAILDIR_FLAG_LETTERS, maildir_folder_path
from ..schema.vocabulary import MAILDIR_KEYWORD_LETTERS as KEYWORD_LETTERS
from .messages import folder_messages
from .seed_over_imap import seed_over_imap

log = logging.getLogger(__name__)

# mtime of seeded folders and control files. Not 0: Dovecot takes a dovecot-keywords file with
# mtime 0 as already read and shows its keywords as unknown-N.
CONTROL_MTIME = 1_577_836_800  # 2020-01-01
STAGING = f"{VMAIL}/.maillab-seed"
UPLOAD_BYTES = 16 * 2**20  # of users' archives at a time: the upload holds about four copies of it


def seed_host(host, scenario: Scenario, passwords: dict[str, str]) -> int:
    """Seed every user of the scenario onto `host`; returns the number of messages written.
    Users' archives go up together, about UPLOAD_BYTES at a time: each request to the host
    costs more than writing a user's mail. A server that is not Dovecot is seeded over IMAP."""
    if host.spec.server != "dovecot":
        return seed_over_imap(host, scenario, passwords)
    write_user_store(host, scenario.users, passwords)
    places = mail_places(host, [user.address for user in scenario.users]) if host.spec.own_store else {}
    if scenario.roundcube:
        write_roundcube(host, roundcube_rows(scenario.seed, scenario.users, scenario.roundcube))
        log.info("seeded Roundcube: %d users, %d contacts each", len(scenario.users), scenario.roundcube.contacts)
    written, batch = 0, []
    for n, user in enumerate(scenario.users):
        batch.append((user, _archive(host, scenario.seed, user, places.get(user.address))))
        if n == len(scenario.users) - 1 or sum(len(archive.tar) for _, archive in batch) >= UPLOAD_BYTES:
            written += _install(host, batch)
            batch = []
    return written


def _archive(host, seed: int, user: UserSpec, place: tuple[str, str] | None) -> UserArchive:
    """The user's archive for `host`: the home and Maildir as maillab's userdb has them, or at
    `place` (home, INBOX's Maildir), where the admin's own store and configuration put them."""
    home = vmail_home(user.address).removeprefix(VMAIL + "/")
    maildir = f"{STAGING.removeprefix(VMAIL + '/')}/{user.address}" if host.spec.mail_format == "mdbox" else home
    name = "Maildir"
    if place:
        home, (maildir, _, name) = place[0], place[1].rpartition("/")
    return user_archive(seed, user, home=home, maildir_parent=maildir, maildir_name=name,
                        folder_directory=host.spec.folder_directory)


# Where the host's Dovecot keeps each user's home and INBOX (the admin's userdb and
# mail_location say it): `doveadm user -f home` and `doveadm mailbox path`, which make nothing.
MAIL_PLACES = """for user; do
    home=$(doveadm user -f home "$user") && inbox=$(doveadm mailbox path -u "$user" INBOX) || exit
    printf '%s\t%s\n' "$home" "$inbox"
done"""
PLACES_PER_CALL = 500


def mail_places(host, addresses: list[str]) -> dict[str, tuple[str, str]]:
    """Each user's home and INBOX Maildir (relative to /var/vmail) as the host's Dovecot has them."""
    places = {}
    for start in range(0, len(addresses), PLACES_PER_CALL):
        chunk = addresses[start:start + PLACES_PER_CALL]
        found = host.run_checked(Command.script(MAIL_PLACES, *chunk, display=f"doveadm user -f home USER; doveadm "
                                                f"mailbox path -u USER INBOX (for {len(chunk)} users)"),
                                 "asking Dovecot where the users' mail is").stdout.splitlines()
        for address, line in zip(chunk, found, strict=True):
            home, _, inbox = line.partition("\t")
            for path in (home, inbox):
                if not path.startswith(VMAIL + "/"):
                    raise LabError(f"{host.role}'s Dovecot keeps {address}'s mail at {path!r}; the lab keeps mail "
                                   f"under {VMAIL}, its mail store: let the admin's userdb put it there")
            places[address] = (home.removeprefix(VMAIL + "/").rstrip("/"), inbox.removeprefix(VMAIL + "/").rstrip("/"))
    return places


def _install(host, batch: list[tuple[UserSpec, UserArchive]]) -> int:
    """Unpack the users' archives at once, then what Dovecot must do per user: an mdbox
    conversion, keywords beyond Maildir's letters, and (for all at once) subscriptions."""
    host.extract(VMAIL, b"".join(archive.tar for _, archive in batch))
    for user, archive in batch:
        if host.spec.mail_format == "mdbox":
            source = f"{STAGING}/{user.address}/Maildir"
            location = ["-o", "mail_driver=maildir", "-o", f"mail_path={source}"] if host.dovecot_series == "2.4" \
                else ["-o", f"mail_location=maildir:{source}"]
            host.run_checked(Command.of("doveadm", *location, "backup", "-u", user.address,
                                        f"mdbox:{vmail_home(user.address)}/mdbox"), f"converting {user.address} to mdbox")
            host.run_checked(Command.of("rm", "-rf", f"{STAGING}/{user.address}"), "removing the staging Maildir")
        for folder, keywords in archive.extra_keywords.items():
            set_keywords_by_guid(host, user.address, host.spec.imap_name(folder), keywords)
    subscriptions = [(user.address, subscribed_folders(host.spec, user)) for user, _ in batch]
    subscribe(host, [(address, folders) for address, folders in subscriptions if folders])
    for user, archive in batch:
        log.info("seeded %s: %d messages", user.address, archive.count)
    return sum(archive.count for _, archive in batch)


# One doveadm per user in one request; a user's folders reach it as one argument, split on
# newlines only, with globbing off (no folder name holds a control character).
SUBSCRIBE_EACH = """set -f
IFS='
'
while [ $# -gt 1 ]; do
    doveadm mailbox subscribe -u "$1" -- $2 || exit
    shift 2
done"""


def subscribed_folders(spec: HostSpec, user: UserSpec) -> list[str]:
    """The user's subscribed folders, as IMAP names on a host of `spec`."""
    return [spec.imap_name(folder.name) for folder in user.folders if folder.subscribed]


def subscribe(host, subscriptions: list[tuple[str, list[str]]]) -> None:
    """Subscribe each user to its folders (user, folders as IMAP names on this host)."""
    if subscriptions:
        args = [value for address, folders in subscriptions for value in (address, "\n".join(folders))]
        host.run_checked(Command.script(SUBSCRIBE_EACH, *args, display="doveadm mailbox subscribe -u USER -- FOLDERS "
                                        f"(for {len(subscriptions)} users)"), "subscribing the users to their folders")


def set_keywords_by_guid(host, address: str, mailbox: str, keywords: dict[str, list[str]]) -> None:
    """Keywords beyond Maildir's 26 letters, set through Dovecot (which keeps them in its
    index) on the messages whose GUID (for Maildir: the file's base name) starts as given."""
    fetched = host.run_checked(Command.of("doveadm", "fetch", "-u", address, "--", "uid guid", "mailbox", mailbox, "all"),
                               f"listing {address} {mailbox}").stdout
    uids = {}
    for record in fetched.split("\f"):
        fields = dict(line.split(": ", 1) for line in record.strip().splitlines() if ": " in line)
        if "guid" in fields:
            uids[fields["guid"].split(",", 1)[0]] = fields["uid"]
    for keyword, guids in sorted(keywords.items()):
        uid_set = ",".join(uids[guid] for guid in guids)
        host.run_checked(Command.of("doveadm", "flags", "add", "-u", address, "--", keyword, "mailbox", mailbox,
                                    "uid", uid_set), f"setting keyword {keyword} for {address}")


def write_user_store(host, users: list[UserSpec], passwords: dict[str, str]) -> None:
    made = host.password_hashes([passwords[u.address] for u in users],
                                [u.password_scheme or host.spec.password_scheme for u in users])
    hashes = {user.address: stored_hash(host.spec, hashed) for user, hashed in zip(users, made, strict=True)}
    if spec := host.spec.own_store:
        store_of(spec).write_users(host, spec, spec.rows([(user.address, hashes[user.address], user.quota,
                                                             user.aliases) for user in users]))
    elif host.spec.user_store == "sql":
        domains, rows, aliases = user_rows(users, hashes)
        with host.db("mailserver") as db, db.cursor() as cursor:
            for insert, values in zip(USER_INSERTS, (domains, rows, aliases), strict=True):
                cursor.executemany(insert, values)
    else:
        host.install_users_file("".join(f"{u.address}:{hashes[u.address]}::::::\n" for u in users).encode())
    host.wait_for_users([user.address for user in users])


def stored_hash(spec: HostSpec, hashed: str) -> str:
    """A hash as `doveadm pw` wrote it (`{SCHEME}hash`), or bare with password_prefix: false."""
    return hashed if spec.password_prefix else hashed.split("}", 1)[1]


# ISPmail's tables in the mailserver database, for user_rows' domains, users and aliases
USER_INSERTS = (
    "INSERT IGNORE INTO virtual_domains (name) VALUES (%s)",
    "INSERT INTO virtual_users (domain_id, email, password, quota) "
    "SELECT id, %s, %s, %s FROM virtual_domains WHERE name = %s",
    "INSERT INTO virtual_aliases (domain_id, source, destination) "
    "SELECT id, %s, %s FROM virtual_domains WHERE name = %s",
)


def user_rows(users: list[UserSpec], hashes: dict[str, str]) -> tuple[list, list, list]:
    """ISPmail's rows: (domain,), (email, password, quota, domain), (alias, destination, domain)."""
    domains = sorted({user.domain for user in users} | {a.split("@")[1] for u in users for a in u.aliases})
    rows = [(user.address, hashes[user.address], user.quota, user.domain) for user in users]
    aliases = [(alias, user.address, alias.split("@")[1]) for user in users for alias in user.aliases]
    return [(domain,) for domain in domains], rows, aliases


FIRST_NAMES = ("Anna", "Ben", "Chiara", "Dmitri", "Elif", "Femi", "Grete", "Hiro", "Inés", "Jonas")
ROUNDCUBE_PREFERENCES = 'a:1:{s:8:"timezone";s:13:"Europe/Berlin";}'  # PHP-serialized, as Roundcube stores it
SURNAMES = ("Müller", "Novak", "Okafor", "Petit", "Quist", "Rossi", "Sato", "Theron", "Urban", "Vogel")
ROUNDCUBE_INSERTS = {
    "users": "INSERT INTO users (user_id, username, mail_host, created, last_login, language, preferences) "
             "VALUES (%s, %s, %s, %s, %s, %s, %s)",
    "identities": "INSERT INTO identities (user_id, changed, standard, name, email, signature) "
                  "VALUES (%s, %s, %s, %s, %s, %s)",
    "contacts": "INSERT INTO contacts (changed, name, email, firstname, surname, vcard, words, user_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
}


def roundcube_rows(seed: int, users: list[UserSpec], spec: RoundcubeSpec) -> dict[str, list[tuple]]:
    """Roundcube's rows for the scenario's users: one users row (with mail_host), a default
    identity and `spec.contacts` address book entries each, the same for the same seed."""
    rows: dict[str, list[tuple]] = defaultdict(list)
    for n, user in enumerate(users, start=1):
        rng = random.Random(f"{seed}/roundcube/{user.address}")
        rows["users"].append((n, user.address, spec.mail_host, f"2021-03-0{1 + n % 9} 10:00:00",
                              f"2024-11-{10 + n % 19} 08:30:00", spec.language, ROUNDCUBE_PREFERENCES))
        rows["identities"].append((n, "2021-03-01 10:00:00", 1, user.address.split("@")[0].title(), user.address,
                                   "-- \n" + user.address))
        for _ in range(spec.contacts):
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            email = f"{first.lower()}.{rng.randrange(1000)}@example.net"
            vcard = f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:{last};{first};;;\r\nFN:{first} {last}\r\nEMAIL:{email}\r\nEND:VCARD"
            rows["contacts"].append((f"2023-0{1 + rng.randrange(9)}-1{rng.randrange(10)} 12:00:00", f"{first} {last}",
                                     email, first, last, vcard, f" {first.lower()} {last.lower()} {email}", n))
    return rows


def write_roundcube(host, rows: dict[str, list[tuple]]) -> None:
    with host.db("roundcube") as db, db.cursor() as cursor:
        for table, insert in ROUNDCUBE_INSERTS.items():
            cursor.executemany(insert, rows[table])


@dataclass
class UserArchive:
    tar: bytes
    count: int = 0
    # folder -> keyword -> the GUIDs (file base names) of the messages that carry it, for the
    # keywords a Maildir folder has no letter for
    extra_keywords: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def user_archive(seed: int, user: UserSpec, home: str, maildir_parent: str, maildir_name: str = "Maildir",
                 folder_directory=maildir_folder_path) -> UserArchive:
    """A tar (paths relative to /var/vmail, owned by vmail) of the user's home with its Sieve
    scripts and of the Maildir `maildir_name` under `maildir_parent` (the home itself, or a
    staging place), each folder in the directory `folder_directory` names (the host's layout and
    escaping)."""
    buffer = io.BytesIO()
    archive = UserArchive(b"")
    root = maildir_parent
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in dict.fromkeys(_parents(home) + _parents(root)):
            _add_dir(tar, directory)
        _add_dir(tar, f"{root}/{maildir_name}")
        folders = {folder.name: folder_messages(seed, user, folder) for folder in user.folders}
        for name in user.all_folder_names():
            path = f"{root}/{maildir_name}/{folder_directory(name)}".rstrip("/")
            if name != "INBOX":
                _add_dir(tar, path)
                _add_file(tar, f"{path}/maildirfolder", b"", CONTROL_MTIME)
            for sub in ("cur", "new", "tmp"):
                _add_dir(tar, f"{path}/{sub}")
            messages = folders.get(name, [])
            keywords = sorted({keyword for message in messages for keyword in message.keywords})
            lettered = keywords[: len(KEYWORD_LETTERS)]
            if lettered:
                table = "".join(f"{i} {keyword}\n" for i, keyword in enumerate(lettered))
                _add_file(tar, f"{path}/dovecot-keywords", table.encode(), CONTROL_MTIME)
            letters = dict(zip(lettered, KEYWORD_LETTERS))
            for n, message in enumerate(messages):
                stamp = int(message.internaldate.timestamp())
                base = f"{stamp}.M{n:06d}P{seed}.maillab"
                flags = "".join(sorted(MAILDIR_FLAG_LETTERS[f] for f in message.flags))
                flags += "".join(sorted(letters[k] for k in message.keywords if k in letters))
                for keyword in message.keywords:
                    if keyword not in letters:
                        archive.extra_keywords.setdefault(name, {}).setdefault(keyword, []).append(base)
                # W= is what Dovecot serves as RFC822.SIZE: the size with CRLF line ends, so
                # only bare LFs grow (mail from files may have CRLF already)
                vsize = len(message.raw) + message.raw.count(b"\n") - message.raw.count(b"\r\n")
                _add_file(tar, f"{path}/cur/{base},S={len(message.raw)},W={vsize}:2,{flags}", message.raw, stamp)
                archive.count += 1
        if user.sieve:
            _add_dir(tar, f"{home}/sieve")
            for name, script in user.sieve.scripts.items():
                _add_file(tar, f"{home}/sieve/{name}.sieve", script.encode(), CONTROL_MTIME)
            if user.sieve.active:
                link = tarfile.TarInfo(f"{home}/.dovecot.sieve")
                link.type, link.linkname = tarfile.SYMTYPE, f"sieve/{user.sieve.active}.sieve"
                link.uid = link.gid = VMAIL_UID
                link.mtime = CONTROL_MTIME
                tar.addfile(link)
    archive.tar = buffer.getvalue()
    return archive


def _parents(root: str) -> list[str]:
    parts = root.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _add_dir(tar: tarfile.TarFile, path: str) -> None:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o700, VMAIL_UID, VMAIL_UID
    info.mtime = CONTROL_MTIME
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, path: str, content: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.uid, info.gid, info.mtime = len(content), 0o600, VMAIL_UID, VMAIL_UID, mtime
    tar.addfile(info, io.BytesIO(content))
