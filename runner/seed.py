"""Seeding: put a scenario's users, mail and Sieve scripts onto a host.

Mail is written straight into Maildir (file mtime = INTERNALDATE, flags and keywords in the
file name, a dovecot-keywords file per folder), which is how a long-lived server looks on
disk and is far faster than APPENDing. An mdbox host gets the same Maildir staged aside and
converted with `doveadm backup`.
"""

from __future__ import annotations

import io
import random
import shlex
import tarfile
from collections.abc import Callable

from imapclient import imap_utf7

from lab.host import VMAIL_UID, MailHostContainer
from runner.messages import folder_messages
from runner.scenario import RoundcubeSpec, Scenario, UserSpec

FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
VMAIL = "/var/vmail"
# mtime of seeded folders and control files. Not 0: Dovecot takes a dovecot-keywords file with
# mtime 0 as already read and shows its keywords as unknown-N.
CONTROL_MTIME = 1_577_836_800  # 2020-01-01
STAGING = f"{VMAIL}/.maillab-seed"


def home_of(address: str) -> str:
    local, domain = address.split("@", 1)
    return f"{VMAIL}/{domain}/{local}"


def maildir_folder_path(name: str) -> str:
    """Maildir++ directory of an IMAP folder: INBOX is the root, 'A/B' is '.A.B' in mUTF-7."""
    if name == "INBOX":
        return ""
    return "." + ".".join(imap_utf7.encode(part).decode("ascii") for part in name.split("/"))


def seed_host(host: MailHostContainer, scenario: Scenario, passwords: dict[str, str],
              say: Callable[[str], None]) -> int:
    """Seed every user of the scenario onto `host`; returns the number of messages written."""
    write_user_store(host, scenario.users, passwords)
    if scenario.roundcube:
        host.sql(roundcube_rows_sql(scenario.seed, scenario.users, scenario.roundcube), database="roundcube")
        say(f"seeded Roundcube: {len(scenario.users)} users, {scenario.roundcube.contacts} contacts each")
    written = 0
    for user in scenario.users:
        home = home_of(user.address).removeprefix(VMAIL + "/")
        maildir = f"{STAGING.removeprefix(VMAIL + '/')}/{user.address}" if host.config.mail_format == "mdbox" else home
        archive, count = user_archive(scenario.seed, user, home=home, maildir_parent=maildir)
        host.extract(VMAIL, archive)
        if host.config.mail_format == "mdbox":
            host.run_checked(_into_mdbox(host, user.address, f"{VMAIL}/{maildir}/Maildir"),
                             f"converting {user.address} to mdbox")
            host.run_checked(["rm", "-rf", f"{STAGING}/{user.address}"], "removing the staging Maildir")
        subscribed = [host.config.imap_name(folder.name) for folder in user.folders if folder.subscribed]
        if subscribed:
            host.run_checked(["doveadm", "mailbox", "subscribe", "-u", user.address, *subscribed],
                             f"subscribing {user.address}")
        written += count
        say(f"seeded {user.address}: {count} messages")
    return written


def _into_mdbox(host: MailHostContainer, address: str, maildir: str) -> str:
    mdbox = f"mdbox:{home_of(address)}/mdbox"
    source = (f"-o mail_driver=maildir -o mail_path={maildir}" if host.dovecot_series == "2.4"
              else f"-o mail_location=maildir:{maildir}")
    return f"doveadm {source} backup -u {shlex.quote(address)} {mdbox}"


def write_user_store(host: MailHostContainer, users: list[UserSpec], passwords: dict[str, str]) -> None:
    hashes = host.password_hashes([passwords[user.address] for user in users])
    if host.config.user_store == "sql":
        host.sql(user_rows_sql(users, dict(zip((u.address for u in users), hashes, strict=True))))
    else:
        lines = "".join(f"{user.address}:{hashed}::::::\n" for user, hashed in zip(users, hashes, strict=True))
        host.put_file("/etc/dovecot/users", lines.encode(), mode=0o640)
        host.run_checked("chgrp dovecot /etc/dovecot/users && maillab-postfix-maps", "updating the user list")
    for user in users:
        host.wait_for_user(user.address)


def quote(value: str) -> str:
    """A MariaDB string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def user_rows_sql(users: list[UserSpec], hashes: dict[str, str]) -> str:
    domains = sorted({user.domain for user in users} | {a.split("@")[1] for u in users for a in u.aliases})
    statements = [f"INSERT IGNORE INTO virtual_domains (name) VALUES ({quote(d)});" for d in domains]
    for user in users:
        domain_id = f"(SELECT id FROM virtual_domains WHERE name={quote(user.domain)})"
        statements.append(
            f"INSERT INTO virtual_users (domain_id, email, password, quota) VALUES "
            f"({domain_id}, {quote(user.address)}, {quote(hashes[user.address])}, {user.quota});"
        )
        for alias in user.aliases:
            alias_domain = f"(SELECT id FROM virtual_domains WHERE name={quote(alias.split('@')[1])})"
            statements.append(
                f"INSERT INTO virtual_aliases (domain_id, source, destination) VALUES "
                f"({alias_domain}, {quote(alias)}, {quote(user.address)});"
            )
    return "\n".join(statements) + "\n"


FIRST_NAMES = ("Anna", "Ben", "Chiara", "Dmitri", "Elif", "Femi", "Grete", "Hiro", "Inés", "Jonas")
ROUNDCUBE_PREFERENCES = 'a:1:{s:8:"timezone";s:13:"Europe/Berlin";}'  # PHP-serialized, as Roundcube stores it
SURNAMES = ("Müller", "Novak", "Okafor", "Petit", "Quist", "Rossi", "Sato", "Theron", "Urban", "Vogel")


def roundcube_rows_sql(seed: int, users: list[UserSpec], spec: RoundcubeSpec) -> str:
    """Roundcube's rows for the scenario's users: one users row (with mail_host), a default
    identity and `spec.contacts` address book entries each, the same for the same seed."""
    statements = []
    for n, user in enumerate(users, start=1):
        rng = random.Random(f"{seed}/roundcube/{user.address}")
        statements.append(
            "INSERT INTO users (user_id, username, mail_host, created, last_login, language, preferences) VALUES "
            f"({n}, {quote(user.address)}, {quote(spec.mail_host)}, '2021-03-0{1 + n % 9} 10:00:00', "
            f"'2024-11-{10 + n % 19} 08:30:00', {quote(spec.language)}, "
            f"{quote(ROUNDCUBE_PREFERENCES)});")
        statements.append(
            "INSERT INTO identities (user_id, changed, standard, name, email, signature) VALUES "
            f"({n}, '2021-03-01 10:00:00', 1, {quote(user.address.split('@')[0].title())}, {quote(user.address)}, "
            f"{quote('-- ' + chr(10) + user.address)});")
        for _ in range(spec.contacts):
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            email = f"{first.lower()}.{rng.randrange(1000)}@example.net"
            vcard = f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:{last};{first};;;\r\nFN:{first} {last}\r\nEMAIL:{email}\r\nEND:VCARD"
            statements.append(
                "INSERT INTO contacts (changed, name, email, firstname, surname, vcard, words, user_id) VALUES "
                f"('2023-0{1 + rng.randrange(9)}-1{rng.randrange(10)} 12:00:00', {quote(f'{first} {last}')}, "
                f"{quote(email)}, {quote(first)}, {quote(last)}, {quote(vcard)}, "
                f"{quote(f' {first.lower()} {last.lower()} {email}')}, {n});")
    return "\n".join(statements) + "\n"


def user_archive(seed: int, user: UserSpec, home: str, maildir_parent: str) -> tuple[bytes, int]:
    """A tar (paths relative to /var/vmail, owned by vmail) of the user's home with its Sieve
    scripts and of the Maildir under `maildir_parent` (the home itself, or a staging place)."""
    buffer = io.BytesIO()
    count = 0
    root = maildir_parent
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in dict.fromkeys(_parents(home) + _parents(root)):
            _add_dir(tar, directory)
        _add_dir(tar, f"{root}/Maildir")
        folders = {folder.name: folder for folder in user.folders}
        for name in user.all_folder_names():
            path = f"{root}/Maildir/{maildir_folder_path(name)}".rstrip("/")
            if name != "INBOX":
                _add_dir(tar, path)
                _add_file(tar, f"{path}/maildirfolder", b"", CONTROL_MTIME)
            for sub in ("cur", "new", "tmp"):
                _add_dir(tar, f"{path}/{sub}")
            folder = folders.get(name)
            if folder is None:
                continue
            messages = folder_messages(seed, user, folder)
            keywords = sorted({keyword for message in messages for keyword in message.keywords})
            if len(keywords) > 26:
                raise ValueError(f"{user.address} {name}: Maildir keeps at most 26 keywords per folder")
            if keywords:
                table = "".join(f"{i} {keyword}\n" for i, keyword in enumerate(keywords))
                _add_file(tar, f"{path}/dovecot-keywords", table.encode(), CONTROL_MTIME)
            letters = {keyword: chr(ord("a") + i) for i, keyword in enumerate(keywords)}
            for n, message in enumerate(messages):
                stamp = int(message.internaldate.timestamp())
                flags = "".join(sorted(FLAG_LETTERS[f] for f in message.flags))
                flags += "".join(sorted(letters[k] for k in message.keywords))
                vsize = len(message.raw) + message.raw.count(b"\n")
                filename = f"{stamp}.M{n:06d}P{seed}.maillab,S={len(message.raw)},W={vsize}:2,{flags}"
                _add_file(tar, f"{path}/cur/{filename}", message.raw, stamp)
                count += 1
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
    return buffer.getvalue(), count


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
