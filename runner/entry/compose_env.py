"""`maillab compose-env`: what compose.yaml's two training servers start with.

compose.yaml starts old and new as the default rehearsal begins (scenarios/bullseye-to-bookworm.yaml):
old holds the scenario's users, their mail, Sieve scripts and subscriptions; new is empty (moving
the users there is the trainee's work). This writes the env file that docker-compose (v1) and
`docker compose` (v2) both read: the lab's id, its secrets and the users' passwords. Beside it
goes the seed bundle old loads at its first start (dockerfiles/mailhost/maillab-seed): the
runner's own seeding pieces (user_archive, user_rows, roundcube_rows) written to files instead
of sent to a running host.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pymysql.converters import escape_item

from ...lab.containers import VMAIL, vmail_home
from ...lab.lab_id import new_lab_id
from ..schema.scenario import HostSpec, Scenario
from ..rehearsal.seed import ROUNDCUBE_INSERTS, USER_INSERTS, roundcube_rows, subscribed_folders, \
    user_archive, user_rows

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DEFAULT_SCENARIO = ROOT / "scenarios" / "bullseye-to-bookworm.yaml"
# compose.yaml's services: the scenario's hosts must be these (its environment says the same)
COMPOSE_HOSTS = {"old": HostSpec(suite="bullseye"), "new": HostSpec(suite="bookworm")}
IGNORED_HOST_FIELDS = {"mail_store", "mail_store_mb"}  # compose keeps mail in the container
SEEDED_ROLE = "old"
BUNDLE_FILES = ("mail.tar", "users.sql", "subscriptions")  # what maillab-seed reads
# Values written as they are: nothing in them is special to either compose's env-file parser.
PLAIN_VALUE = re.compile(r"[A-Za-z0-9_@%+:,./-]*")
# Inside single quotes python-dotenv (v1) decodes \\ and \' while compose-go (v2) keeps them:
# a value with a backslash, a quote or a line break would reach the two differently.
UNQUOTABLE = re.compile(r"['\\\n\r]")


class ComposeEnvError(Exception):
    """Bad input: the message names the file or the scenario's field."""


@dataclass(frozen=True)
class ComposeEnv:
    env_file: Path
    bundle: Path
    lab_id: str
    passwords: dict[str, str]  # address -> password, the scenario's users on old
    messages: int


def bundle_path(env_file: Path) -> Path:
    """The seed bundle of an env file: beside it, named after it (`.env` -> `.env.seed`)."""
    return env_file.with_name(env_file.name + ".seed")


def env_line(name: str, value: str) -> str:
    """NAME=value as both compose versions read it: plain when it can be, else in single
    quotes (both take what is inside literally: no ${...} interpolation, no '#' comment)."""
    if PLAIN_VALUE.fullmatch(value):
        return f"{name}={value}\n"
    if UNQUOTABLE.search(value):
        raise ComposeEnvError(f"{name}: {value!r} holds a quote, backslash or line break, "
                              "which the two compose versions read differently")
    return f"{name}='{value}'\n"


def password_hash(password: str) -> str:
    """Dovecot's SSHA512 scheme (base64 of SHA-512(password + salt) + salt): made here, without
    a host's `doveadm pw`, since the bundle is written before any container runs."""
    salt = secrets.token_bytes(16)
    return "{SSHA512}" + base64.b64encode(hashlib.sha512(password.encode() + salt).digest() + salt).decode()


def check_hosts(scenario: Scenario) -> None:
    """The scenario's hosts must be the ones compose.yaml starts."""
    for role, wanted in COMPOSE_HOSTS.items():
        have = scenario.hosts[role].model_dump(exclude=IGNORED_HOST_FIELDS)
        for field, value in wanted.model_dump(exclude=IGNORED_HOST_FIELDS).items():
            if have[field] != value:
                raise ComposeEnvError(f"{scenario.name}: hosts.{role}.{field} is {have[field]!r}, "
                                      f"compose.yaml's {role} has {value!r}")


def users_sql(scenario: Scenario, hashes: dict[str, str]) -> str:
    """The users' rows (and Roundcube's, if the scenario has it) as SQL statements, the values
    quoted by pymysql as the runner's parameters are."""
    statements = ["SET NAMES utf8mb4", "USE mailserver"]
    statements += _inserts(zip(USER_INSERTS, user_rows(scenario.users, hashes), strict=True))
    if scenario.roundcube:
        rows = roundcube_rows(scenario.seed, scenario.users, scenario.roundcube)
        statements += ["USE roundcube", *_inserts((insert, rows[table]) for table, insert in ROUNDCUBE_INSERTS.items())]
    return "".join(f"{statement};\n" for statement in statements)


def _inserts(tables) -> list[str]:
    """One INSERT per row of each (statement, rows)."""
    return [insert % tuple(escape_item(value, "utf8mb4") for value in row) for insert, rows in tables for row in rows]


def write_bundle(directory: Path, scenario: Scenario, passwords: dict[str, str]) -> int:
    """mail.tar, users.sql and subscriptions for the seeded host; returns the message count."""
    spec = scenario.hosts[SEEDED_ROLE]
    archives, subscriptions = [], []
    for user in scenario.users:
        home = vmail_home(user.address).removeprefix(VMAIL + "/")
        archive = user_archive(scenario.seed, user, home=home, maildir_parent=home,
                               folder_directory=spec.folder_directory)
        if archive.extra_keywords:  # set through Dovecot's index by the runner; maillab-seed has no such step
            raise ComposeEnvError(f"{scenario.name}: {user.address} has folders with more than 26 keywords")
        archives.append(archive)
        subscriptions += [f"{user.address}\t{folder}\n" for folder in subscribed_folders(spec, user)]
    hashes = {address: password_hash(password) for address, password in passwords.items()}
    directory.mkdir(mode=0o700, exist_ok=True)
    contents = (b"".join(archive.tar for archive in archives), users_sql(scenario, hashes).encode(),
                "".join(subscriptions).encode())
    for name, content in zip(BUNDLE_FILES, contents, strict=True):
        _write_private(directory / name, content)
    return sum(archive.count for archive in archives)


def env_text(lab_id: str, bundle: Path, scenario: Scenario, passwords: dict[str, str]) -> str:
    service_secrets = {name: secrets.token_urlsafe(18) for name in
                       ("MAILLAB_DOVEADM_PASSWORD", "MAILLAB_DB_PASSWORD", "MAILLAB_PROBE_PASSWORD")}
    text = (f"# Written by `maillab compose-env` for compose.yaml ({scenario.name}). Private: mode 0600.\n"
            f"# Remove the lab with `docker-compose down` or `maillab down --lab {lab_id}`.\n")
    text += env_line("COMPOSE_PROJECT_NAME", lab_id) + env_line("MAILLAB_LAB", lab_id)
    text += env_line("MAILLAB_SEED", str(bundle))
    text += "".join(env_line(name, value) for name, value in service_secrets.items())
    text += f"# The users on {SEEDED_ROLE} (IMAP, POP3, ManageSieve, SMTP: `docker-compose port forwarder 10143`).\n"
    for n, (address, password) in enumerate(passwords.items(), start=1):
        text += env_line(f"MAILLAB_USER_{n}", address) + env_line(f"MAILLAB_USER_{n}_PASSWORD", password)
    return text


def write_compose_env(out: Path, scenario: Scenario, force: bool = False) -> ComposeEnv:
    """The env file at `out` and its seed bundle; neither is replaced unless `force`."""
    out = out.absolute()
    bundle = bundle_path(out)
    for existing in (out, bundle):
        if existing.exists() and not force:
            raise ComposeEnvError(f"{existing} exists: give --force to replace it")
    if not out.parent.is_dir():
        raise ComposeEnvError(f"{out.parent}: no such directory")
    check_hosts(scenario)
    lab_id = new_lab_id("compose-")
    passwords = {user.address: secrets.token_urlsafe(12) for user in scenario.users}
    text = env_text(lab_id, bundle, scenario, passwords)  # before the bundle: a path it cannot hold stops here
    messages = write_bundle(bundle, scenario, passwords)
    _write_private(out, text.encode())
    return ComposeEnv(out, bundle, lab_id, passwords, messages)


def _write_private(path: Path, content: bytes) -> None:
    """Write `path` with mode 0600, replacing it at once (never half written)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def summary(written: ComposeEnv) -> list[str]:
    """What was written, the users' logins and the next commands, one line each."""
    if written.env_file == COMPOSE_FILE.parent / ".env":  # what both versions read unasked
        compose, where = "docker-compose", [f"  cd {shlex.quote(str(COMPOSE_FILE.parent))}"]
    else:
        compose = f"docker-compose -f {shlex.quote(str(COMPOSE_FILE))} --env-file {shlex.quote(str(written.env_file))}"
        where = []
    lines = [f"wrote {written.env_file} (mode 0600): lab {written.lab_id}, its secrets and "
             f"{len(written.passwords)} users' passwords",
             f"wrote {written.bundle}/: {written.messages} messages of {len(written.passwords)} users, "
             f"which {SEEDED_ROLE} loads at its first start",
             f"users on {SEEDED_ROLE} (new has none yet):"]
    lines += [f"  {address}  password {password}" for address, password in written.passwords.items()]
    lines += ["next (Compose v2: docker compose instead of docker-compose):", *where,
              f"  {compose} up -d",
              f"  {compose} port forwarder 10143   # {SEEDED_ROLE}'s IMAP on 127.0.0.1 (POP3 10110, SMTP 10025, "
              "ManageSieve 14190; new's: 20143, ...)",
              f"  {compose} exec new bash",
              f"  {compose} down   # or: maillab down --lab {written.lab_id}"]
    return lines
