"""The scenario schema: the one truth about what a rehearsal sets up, runs and expects.

Pure data (pydantic): it imports nothing from the lab or from any method's executor. Every
value that would fail later (at seeding, in a shell, in SQL, in a Dovecot config) fails here,
when the file is loaded (`runner/schema/loader.py` turns the error into file:line: field: message).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator
from pydantic import ValidationInfo

from .faults import FaultSpec, Resume
from .steps import StepSpec
from .stores import UserStoreSpec
from .vocabulary import DOVECOT_SERIES, NAME_MAX, EscapeChar, Layout, maildir_folder_path
from .vocabulary import CRYPT_SCHEMES, DEFAULT_PASSWORD_SCHEME, SUITE_SCHEMES, WEAK_SCHEMES_24, PasswordScheme
from .vocabulary import (
    DATABASES, MAIL_STORE_BYTES, MESSAGE_MAX, NAMESPACES, QUOTA_MAX, Address, ArgText, Compression,
    ContentType, FileName, FolderName, HeaderText, Keyword, MailFormat, MessageId, Namespace, PlainName,
    MailServerKind, Property, Role, SERVER_NAMESPACE, SourcePath, Suite, SystemFlag, UserStore, checked_str, shaped,
)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# What UIDL formats are made of (2.3: %08Xu%08Xv, 2.4: %{uid | hex(8)}): nothing that Dovecot's
# config reader takes otherwise, no '<' (2.3 reads a value that starts with it from a file),
# no '$' (a setting's value), no quote or backslash (the entrypoint writes it quoted).
Pop3UidlFormat = checked_str(shaped(r"[%A-Za-z0-9{}|() ._:,-]{1,100}", "a pop3_uidl_format the lab takes "
                                    "(letters, digits, % { } | ( ) . _ : , - and spaces; at most 100)"))


# hosts.<role>.user_store: the lab's own (sql: ISPmail's tables in MariaDB; passwd-file), or the
# admin's own store as a mapping (runner/schema/stores.py)
HostUserStore = Annotated[
    Union[Annotated[UserStore, Tag("name")], Annotated[UserStoreSpec, Tag("store")]],  # noqa: UP007
    Discriminator(lambda v: "store" if isinstance(v, dict | UserStoreSpec) else "name"),
]


# What a host that is not Dovecot may set (HostSpec._dovecot_settings_on_dovecot)
FOREIGN_SERVER_FIELDS = frozenset({"suite", "server", "mail_store", "mail_store_mb"})


class HostSpec(Model):
    suite: Suite
    # the IMAP/POP3 server: Dovecot, or (old only) a real Courier-IMAP or Cyrus IMAP, seeded over
    # IMAP and ManageSieve as its users' clients would (docs/foreign-servers.md)
    server: MailServerKind = "dovecot"
    mail_format: MailFormat = "maildir"
    user_store: HostUserStore = "sql"
    # courier: clients see `INBOX.` before every folder and `.` between levels
    namespace: Namespace = "dovecot"
    # dovecot: Debian's Drafts, Junk, Sent and Trash; gmail: the folders a migration from Gmail
    # brought ([Gmail]/Drafts, Sent Mail, Spam, Trash) are the special ones, and Dovecot makes
    # none of its own (Dovecot 2.3 hosts: dovecot-2.3/special-folders-gmail.conf)
    special_folders: Literal["dovecot", "gmail"] = "dovecot"
    # how new mail is written: Dovecot 2.3's zlib plugin, 2.4's mail_compress
    compression: Compression = "none"
    # Dovecot's default when unset; written in the host's Dovecot syntax (2.3: %08Xu%08Xv,
    # 2.4: %{uid | hex(8)}%{uidvalidity | hex(8)})
    pop3_uidl_format: Pop3UidlFormat | None = None
    # Mail is kept in memory (a tmpfs: fast, gone with the container) or on a disk of its own
    # (a Docker volume: it survives a reboot of the host, as a real server's disk does).
    mail_store: Literal["memory", "disk"] = "memory"
    mail_store_mb: int = Field(MAIL_STORE_BYTES // 2**20, ge=16, le=MAIL_STORE_BYTES // 2**20)
    # Folder names on disk (docs/folder-layouts.md). Unset: the format's own layout, Maildir++
    # for maildir; fs: 'A/B' is the directory A/B and a level may hold '.'.
    layout: Layout | None = None
    # Dovecot 2.3's listescape plugin with this escape character (Dovecot's default is '\\'):
    # '.' in a Maildir++ name is stored as \2e (doc 2.3: configuration_manual/plugins/listescape_plugin).
    listescape_char: EscapeChar | None = None
    # Its 2.4 replacement ("listescape plugin: Use mailbox_list_storage_escape_char instead",
    # doc 2.4: installation/upgrade/2.3-to-2.4, Backends and Plugins); the same names on disk.
    mailbox_list_storage_escape_char: EscapeChar | None = None
    # 2.4: how names that cannot be shown reversibly (a remote's broken mUTF-7, its separator
    # inside a name) appear to clients; nothing on disk changes (2.3: mail_location's BROKENCHAR).
    mailbox_list_visible_escape_char: EscapeChar | None = None
    # The admin's own configuration (docs/own-server.md): a folder, relative to the scenario,
    # holding dovecot/ (dovecot.conf, conf.d/, *.conf.ext) and optionally postfix/ (main.cf,
    # master.cf, maps, mysql-*.cf). The host runs it instead of maillab's; the loader checks it.
    config: SourcePath | None = None
    # The scheme old's own `doveadm pw -s` hashes the users' passwords with (a user's
    # password_scheme overrides it); stored as Dovecot writes it, `{SCHEME}hash`, or with
    # password_prefix: false the bare hash (postfixadmin's MD5-CRYPT), which the passdb's
    # default scheme then reads (the lab's: SHA512-CRYPT). docs/password-schemes.md
    password_scheme: PasswordScheme = DEFAULT_PASSWORD_SCHEME
    password_prefix: bool = True
    # 2.4: auth_allow_weak_schemes = yes (without it 2.4 refuses MD5-CRYPT and the other WEAK_SCHEMES_24)
    allow_weak_schemes: bool = False

    @property
    def own_store(self) -> UserStoreSpec | None:
        """The admin's own user store, or None for the lab's (sql, passwd-file)."""
        return self.user_store if isinstance(self.user_store, UserStoreSpec) else None

    @field_validator("password_scheme")
    @classmethod
    def _scheme_made_by_suite(cls, scheme: str, info: ValidationInfo) -> str:
        if (suite := info.data.get("suite")) and (problem := scheme_problem(suite, scheme)):
            raise ValueError(problem)
        return scheme

    @field_validator("allow_weak_schemes")
    @classmethod
    def _weak_schemes_on_24(cls, allow: bool, info: ValidationInfo) -> bool:
        if allow and info.data.get("config"):
            raise ValueError("the host runs the admin's own configuration (config): set "
                             "auth_allow_weak_schemes = yes there, as on the real server")
        if allow and (suite := info.data.get("suite")) and DOVECOT_SERIES[suite] == "2.3":
            raise ValueError(f"auth_allow_weak_schemes is a Dovecot 2.4 setting; {suite} has 2.3, which refuses "
                             "no scheme as weak ('Unknown setting')")
        return allow

    def password_problem(self, scheme: str) -> str | None:
        """Why this host cannot make or verify a user's hash of `scheme` (at seeding), or None."""
        if problem := scheme_problem(self.suite, scheme):
            return problem
        if DOVECOT_SERIES[self.suite] == "2.4" and scheme in WEAK_SCHEMES_24 and not self.allow_weak_schemes:
            return (f"{self.suite}'s Dovecot 2.4 refuses {scheme} as a weak scheme, so no user could log in "
                    "on it: set allow_weak_schemes: true (auth_allow_weak_schemes = yes)")
        # a bare hash is read with the passdb's default scheme: maillab's is known, an admin's own is theirs
        if not self.password_prefix and scheme not in CRYPT_SCHEMES and not self.config:
            return (f"stored without {{{scheme}}} (password_prefix: false), the hash is read with the passdb's "
                    f"default scheme {DEFAULT_PASSWORD_SCHEME} and never matches: only crypt(3) hashes "
                    f"({', '.join(sorted(CRYPT_SCHEMES))}) are told apart by their own look")
        return None

    @field_validator("layout")
    @classmethod
    def _layout_of_maildir(cls, layout: Layout | None, info: ValidationInfo) -> Layout | None:
        if info.data.get("mail_format") == "mdbox":
            raise ValueError("applies to maildir only: mdbox uses the fs layout already "
                             "(mailboxes/A/B/dbox-Mails)")
        return layout

    @field_validator("listescape_char")
    @classmethod
    def _listescape_on_23(cls, char: str | None, info: ValidationInfo) -> str | None:
        if (suite := info.data.get("suite")) and DOVECOT_SERIES[suite] == "2.4":
            raise ValueError(f"the listescape plugin is Dovecot 2.3's; {suite} has 2.4, which dropped it "
                             "('Plugin listescape not found'): set mailbox_list_storage_escape_char instead")
        return char

    @field_validator("mailbox_list_storage_escape_char", "mailbox_list_visible_escape_char")
    @classmethod
    def _escape_settings_on_24(cls, char: str | None, info: ValidationInfo) -> str | None:
        if (suite := info.data.get("suite")) and DOVECOT_SERIES[suite] == "2.3":
            instead = ": set listescape_char instead" if info.field_name == "mailbox_list_storage_escape_char" else ""
            raise ValueError(f"{info.field_name} is a Dovecot 2.4 setting; {suite} has 2.3, which refuses it "
                             f"('Unknown setting'){instead}")
        return char

    @property
    def storage_escape_char(self) -> str | None:
        return self.listescape_char or self.mailbox_list_storage_escape_char

    @property
    def seeded_layout(self) -> Layout:
        """The layout seeding writes: the host's, or Maildir++ for the Maildir an mdbox host
        gets its mail converted from."""
        return (self.layout or "maildir++") if self.mail_format == "maildir" else "maildir++"

    def folder_directory(self, folder: str) -> str:
        """Where seeding writes `folder` under the Maildir root, as this host's Dovecot keeps it."""
        return maildir_folder_path(folder, self.seeded_layout, self.storage_escape_char)

    def folder_problem(self, folder: str) -> str | None:
        """Why this host's Dovecot cannot keep `folder` (what it answered in the lab), or None."""
        levels = folder.split("/")
        if self.shown_namespace == "courier" and any("." in level for level in levels):
            return "the courier namespace shows clients '.' between levels: no level can hold one"
        if self.seeded_layout == "maildir++" and not self.storage_escape_char and "." in folder:
            escape = "listescape_char" if DOVECOT_SERIES[self.suite] == "2.3" else "mailbox_list_storage_escape_char"
            layout = " or layout: fs" if self.mail_format == "maildir" else " (the lab seeds mdbox from a Maildir++ copy)"
            return ("Maildir++ keeps levels apart with '.', and Dovecot refuses the name ('Character not allowed in "
                    f"mailbox name'): set {escape}{layout}")
        if self.seeded_layout == "fs" and (reserved := sorted({"cur", "new", "tmp"} & set(levels))):
            return (f"in the fs layout a level named '{reserved[0]}' would be Maildir's own directory, and Dovecot "
                    "refuses the name ('Contains reserved name')")
        if max(len(part.encode()) for part in self.folder_directory(folder).split("/")) > NAME_MAX:
            return f"escaped, a directory name would be longer than {NAME_MAX} bytes"
        return None

    @model_validator(mode="after")
    def _dovecot_settings_on_dovecot(self) -> HostSpec:
        """A Courier or Cyrus host is that server as Debian ships it: Dovecot's knobs do not apply."""
        if self.server != "dovecot":
            if dovecot_only := sorted(self.model_fields_set - FOREIGN_SERVER_FIELDS):
                raise ValueError(f"{dovecot_only[0]}: a Dovecot setting; a {self.server} host takes only "
                                 f"{', '.join(sorted(FOREIGN_SERVER_FIELDS))}")
        return self

    @model_validator(mode="after")
    def _own_store_read_by_own_config(self) -> HostSpec:
        if self.own_store and not self.config:
            raise ValueError("user_store: the admin's own store is read by the admin's own configuration: "
                             "set config (maillab's own configuration reads ISPmail's tables: user_store: sql)")
        return self

    @model_validator(mode="after")
    def _gmail_folders_fit(self) -> HostSpec:
        if self.special_folders == "gmail" and self.suite == "trixie":
            raise ValueError("special_folders: gmail is made for Dovecot 2.3 (bullseye, bookworm), not trixie's 2.4")
        if self.special_folders == "gmail" and self.namespace != "dovecot":
            raise ValueError("special_folders: gmail goes with namespace: dovecot ('/' between levels, as Gmail)")
        return self

    def imap_name(self, folder: str) -> str:
        """The name IMAP clients of this host see for `folder` ('A/B' in the scenario)."""
        if folder == "INBOX":
            return folder
        prefix, separator = NAMESPACES[self.shown_namespace]
        return prefix + folder.replace("/", separator)

    @property
    def shown_namespace(self) -> str:
        """The namespace style clients see: the setting on Dovecot, the server's own otherwise
        (SERVER_NAMESPACE)."""
        return self.namespace if self.server == "dovecot" else SERVER_NAMESPACE[self.server]


def scheme_problem(suite: str, scheme: str) -> str | None:
    """Why `suite`'s `doveadm pw` cannot make a hash of `scheme`, or None."""
    if scheme in SUITE_SCHEMES[suite]:
        return None
    return (f"{suite}'s Dovecot {DOVECOT_SERIES[suite]} has no {scheme} in `doveadm pw -l`"
            + (": write ARGON2ID, the same hash" if scheme == "ARGON2" else ""))


class Attachment(Model):
    filename: FileName
    size: int = Field(gt=0, le=MESSAGE_MAX)
    content_type: ContentType = "application/octet-stream"


class MessageSpec(Model):
    """One message written out in the scenario."""

    subject: HeaderText
    sender: HeaderText = Field("someone@example.net", alias="from")
    # The Date: header keeps the offset written here; INTERNALDATE is the same instant.
    date: dt.datetime
    flags: list[SystemFlag] = []
    keywords: list[Keyword] = []
    body: ArgText = "Hello.\n"
    attachments: list[Attachment] = []
    message_id: MessageId | None = None

    @property
    def bytes_estimate(self) -> int:
        return 1024 + len(self.body.encode()) + sum(a.size * 4 // 3 for a in self.attachments)


class RawMessageSpec(Model):
    """One message given as its bytes, seeded unchanged (malformed mail included): `raw` in
    the scenario (text, stored as UTF-8; YAML `!!binary` for bytes that are not UTF-8) or
    `raw_file` (a path relative to the scenario). `size` repeats the body (what follows the
    first empty line) until the message is exactly that many bytes. INTERNALDATE is `date`,
    else the Date header, else the file's mtime (`raw_file`) or 2020-01-01T00:00:00Z."""

    raw: bytes | None = Field(None, max_length=MESSAGE_MAX)
    raw_file: SourcePath | None = None
    size: int | None = Field(None, gt=0, le=MESSAGE_MAX)
    date: dt.datetime | None = None
    flags: list[SystemFlag] = []
    keywords: list[Keyword] = []

    @model_validator(mode="after")
    def _one_source(self) -> RawMessageSpec:
        if (self.raw is None) == (self.raw_file is None):
            raise ValueError("give either raw (the message in the scenario) or raw_file, not both")
        if self.raw is not None and self.size is not None:
            if not split_body(self.raw)[1]:
                raise ValueError("size repeats the body, and this raw message has none after its empty line")
            if self.size < len(self.raw):
                raise ValueError(f"size {self.size} is smaller than the raw message ({len(self.raw)} bytes)")
        return self

    @property
    def bytes_estimate(self) -> int:
        return self.size or len(self.raw or b"")


def split_body(raw: bytes) -> tuple[bytes, bytes]:
    """A message's header (with the empty line that ends it) and body."""
    ends = [(found, len(mark)) for mark in (b"\n\n", b"\r\n\r\n") if (found := raw.find(mark)) >= 0]
    if not ends:
        return raw, b""
    at, length = min(ends)
    return raw[: at + length], raw[at + length:]


# A written-out message is a raw one when it says raw or raw_file (the tag names the kind in errors).
WrittenMessage = Annotated[
    Union[Annotated[MessageSpec, Tag("written")], Annotated[RawMessageSpec, Tag("raw")]],  # noqa: UP007
    Discriminator(lambda v: "raw" if isinstance(v, dict) and ({"raw", "raw_file"} & set(v))
                  or isinstance(v, RawMessageSpec) else "written"),
]


class MailSource(Model):
    """A folder's mail read from the admin's files where they are: one Maildir folder (the
    directory with cur/ and new/), an mbox file, or a directory of .eml files. The path is
    relative to the scenario file."""

    maildir: SourcePath | None = None
    mbox: SourcePath | None = None
    eml: SourcePath | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MailSource:
        if len(self.model_fields_set & {"maildir", "mbox", "eml"}) != 1:
            raise ValueError("name one of maildir, mbox or eml")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in ("maildir", "mbox", "eml") if getattr(self, kind) is not None)

    @property
    def path(self) -> str:
        return getattr(self, self.kind)


class MaildirImport(Model):
    """A whole Maildir++ tree for a user: the root is INBOX, `.A.B` is folder A/B (levels in
    modified UTF-7). A folder also listed under `folders` keeps its settings there."""

    maildir: SourcePath


class FolderSpec(Model):
    """A folder, its generated messages (`count`), any written-out ones (`messages`) and any
    read from files (`source`)."""

    name: FolderName
    subscribed: bool = True
    count: int = Field(0, ge=0, le=1_000_000)
    flags: dict[SystemFlag, float] = {"\\Seen": 0.6}
    keywords: dict[Keyword, float] = {}
    sizes: tuple[int, int] = (400, 12_000)
    attachments: float = Field(0.05, ge=0, le=1)
    dates: tuple[dt.date, dt.date] = (dt.date(2022, 1, 1), dt.date(2024, 12, 31))
    messages: list[WrittenMessage] = []
    source: MailSource | None = None
    # Gmail labels (old is server: gmail): the share of this folder's messages that also carry
    # label X, and so are also in folder X (the same message, seeded by UID COPY, as Gmail's
    # clients label it)
    labels: dict[FolderName, float] = {}
    # Gmail (old is server: gmail): the share of this folder's messages its users' POP3 clients
    # deleted; Gmail hides them from POP3 only (seed 002's pop3_deleted_flag)
    pop3_deleted: float = Field(0, ge=0, le=1)

    @field_validator("flags", "keywords", "labels")
    @classmethod
    def _probability(cls, table: dict[str, float]) -> dict[str, float]:
        for name, probability in table.items():
            if not 0 <= probability <= 1:
                raise ValueError(f"the share of messages with {name} must be between 0 and 1")
        return table

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: tuple[int, int]) -> tuple[int, int]:
        if not 0 < sizes[0] <= sizes[1] <= MESSAGE_MAX:
            raise ValueError(f"sizes must be [smallest, largest] in bytes, 0 < smallest <= largest <= {MESSAGE_MAX}")
        return sizes

    @field_validator("dates")
    @classmethod
    def _dates(cls, dates: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
        if dates[0] > dates[1]:
            raise ValueError("dates must be [earliest, latest]")
        return dates

    @property
    def bytes_estimate(self) -> int:
        """About what the folder's mail takes on disk (headers and base64 included)."""
        generated = self.count * (1024 + (self.sizes[0] + self.sizes[1]) // 2 * 4 // 3)
        own = generated + sum(message.bytes_estimate for message in self.messages)
        return round(own * (1 + sum(self.labels.values())))


class SieveSpec(Model):
    scripts: dict[PlainName, ArgText]
    active: PlainName | None = None

    @model_validator(mode="after")
    def _active_exists(self) -> SieveSpec:
        if self.active is not None and self.active not in self.scripts:
            raise ValueError(f"active script '{self.active}' is not among the scripts")
        return self


class UserSpec(Model):
    address: Address
    quota: int = Field(0, ge=0, le=QUOTA_MAX)
    aliases: list[Address] = []
    folders: list[FolderSpec] = []
    sieve: SieveSpec | None = None
    # a Maildir++ tree whose folders the loader adds to `folders`
    import_: MaildirImport | None = Field(None, alias="import")
    # this user's hash scheme on old, instead of hosts.old.password_scheme
    password_scheme: PasswordScheme | None = None

    @property
    def domain(self) -> str:
        return self.address.split("@", 1)[1]

    @model_validator(mode="after")
    def _unique_folders(self) -> UserSpec:
        names = [folder.name for folder in self.folders]
        if len(set(names)) != len(names):
            raise ValueError("a folder is listed twice")
        for folder in self.folders:
            for label in folder.labels:
                if label == folder.name or label not in {"INBOX", *names}:
                    raise ValueError(f"folder '{folder.name}' labels its messages '{label}': "
                                     + ("a folder of its own" if label == folder.name else "not one of the user's folders"))
        return self

    def all_folder_names(self) -> list[str]:
        """The user's folders with every parent level, as IMAP shows them."""
        names = {"INBOX"}
        for folder in self.folders:
            parts = folder.name.split("/")
            names.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(names)


Hostname = checked_str(shaped(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,126}[A-Za-z0-9])?", "a host name"))
Language = checked_str(shaped(r"[a-z]{2,3}(_[A-Z]{2})?", "a language code such as de_DE"))


class RoundcubeSpec(Model):
    """Roundcube data on old: a users row per scenario user, identities and address books."""

    mail_host: Hostname = "old"  # what Roundcube's users.mail_host holds on old
    contacts: int = Field(5, ge=0, le=10_000)  # per user
    language: Language = "de_DE"


TableName = checked_str(shaped(rf"(?:{'|'.join(DATABASES)})\.[a-z_]{{1,64}}", "database.table "
                             f"(database one of {', '.join(DATABASES)})"))
ColumnName = checked_str(shaped(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", "a column name"))


class DbChange(Model):
    """A column the migration is meant to change, e.g. Roundcube's users.mail_host."""

    table: TableName
    column: ColumnName
    value: HeaderText | None


class Expectations(Model):
    """What must hold after the migration. `lost` names what the method is declared to lose
    (a tolerated loss); every other property must hold, including any added to maillab later.
    `preserved` is the older, opposite spelling: only what it names must hold."""

    lost: list[Property] = []
    preserved: list[Literal["all"] | Property] | None = None
    smoke_delivery: bool = True
    db_changes: list[DbChange] = []

    @model_validator(mode="after")
    def _one_spelling(self) -> Expectations:
        if self.preserved is not None and self.lost:
            raise ValueError("give either lost (what the method loses) or preserved, not both")
        return self

    def must_hold(self, prop: str) -> bool:
        if self.preserved is not None:
            return "all" in self.preserved or prop in self.preserved
        return prop not in self.lost


class TrafficSpec(Model):
    """Mail the internet sends while the migration runs: `rate` messages per second, spread
    over the users, from `lead` seconds before the first step until `tail` seconds after the
    last; each has its own Message-ID and is accounted for in the ledger."""

    rate: float = Field(5, gt=0, le=200)
    users: Literal["all"] | list[Address] = "all"
    lead: float = Field(3, ge=0, le=3600)
    tail: float = Field(3, ge=0, le=3600)


class CutoverSpec(Model):
    """A live cutover: the lab gets a DNS holding the users' domains (MX -> mail.<domain> ->
    old, every record with `ttl`) and a sending MTA that resolves through a caching resolver.
    Time is scaled: a day of the guide lasts `day` seconds in the lab, and so do TTLs and
    waits (86400 -> `day`; at least a second)."""

    day: float = Field(10, gt=0, le=86400)
    ttl: int = Field(86400, ge=1, le=7 * 86400)
    traffic: TrafficSpec = TrafficSpec()
    # seconds the run waits, after the last step, for the sender's queue to empty
    drain: float = Field(60, gt=0, le=3600)

    def lab_seconds(self, seconds: float) -> int:
        """A duration of the guide (a TTL, a wait) in the lab's time."""
        return max(1, round(seconds * self.day / 86400))


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB".replace(".0 ", " ") if count >= 2**30 else f"{count / 2**20:.0f} MiB"


class Scenario(Model):
    name: PlainName
    description: HeaderText
    seed: int = Field(1, ge=0, le=2**63 - 1)
    hosts: dict[Role, HostSpec]
    users: list[UserSpec] = Field(min_length=1, max_length=100_000)
    roundcube: RoundcubeSpec | None = None
    steps: list[StepSpec] = Field(min_length=1, max_length=1000)
    idempotence: bool = True
    expect: Expectations = Expectations()
    cutover: CutoverSpec | None = None
    faults: list[FaultSpec] = Field([], max_length=100)
    resume: Resume = Resume()
    # where the scenario file is: steps find the user's scripts relative to it
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @field_validator("hosts")
    @classmethod
    def _both_hosts(cls, hosts: dict[str, HostSpec]) -> dict[str, HostSpec]:
        if set(hosts) not in ({"old", "new"}, {"old"}):
            raise ValueError("hosts must name both 'old' and 'new' (or only 'old', upgraded in place)")
        return hosts

    @field_validator("steps")
    @classmethod
    def _in_place_upgrades(cls, steps: list, info: ValidationInfo) -> list:
        if set(info.data.get("hosts", {"new": None})) == {"old"} and not any(s.method == "dist_upgrade" for s in steps):
            raise ValueError("a scenario with only hosts.old rehearses an upgrade in place: it needs a "
                             "dist_upgrade step (or name hosts.new)")
        return steps

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        addresses = [user.address for user in self.users]
        if len(set(addresses)) != len(addresses):
            raise ValueError("a user is listed twice")
        aliases = [alias for user in self.users for alias in user.aliases]
        if clash := sorted(set(aliases) & set(addresses)) or sorted(a for a, n in Counter(aliases).items() if n > 1):
            raise ValueError(f"alias {clash[0]} is also a user's address or another alias")
        if self.cutover and isinstance(self.cutover.traffic.users, list):
            if unknown := sorted(set(self.cutover.traffic.users) - set(addresses)):
                raise ValueError(f"cutover.traffic.users: not in the scenario: {', '.join(unknown)}")
        need = sum(folder.bytes_estimate for user in self.users for folder in user.folders)
        if need > (holds := min(host.mail_store_mb for host in self.hosts.values()) * 2**20):
            raise ValueError(f"the users' mail would take about {_size(need)}; a lab host holds {_size(holds)}")
        gmailish = next((user for user in self.users if any(f.labels or f.pop3_deleted for f in user.folders)), None)
        if gmailish and self.hosts["old"].server != "gmail":
            raise ValueError(f"{gmailish.address}: labels and pop3_deleted are Gmail's: old is not server: gmail")
        for fault in self.faults:
            if fault.when.step > len(self.steps):
                raise ValueError(f"a fault strikes during step {fault.when.step}; there are {len(self.steps)} steps")
        return self

    @property
    def in_place(self) -> bool:
        """The host is upgraded where it stands (dist_upgrade): the verdict compares it after the
        upgrade with itself before, as its clients see it."""
        return "new" not in self.hosts

    @property
    def target(self) -> str:
        """The host the users end up on: new, or old itself after an upgrade in place."""
        return "old" if self.in_place else "new"

    @property
    def upgrades(self) -> dict[str, str]:
        """Each host upgraded in place, with the suite it is upgraded to."""
        return {step.host: step.target(self) for step in self.steps if step.method == "dist_upgrade"}

    @property
    def message_count(self) -> int:
        return sum(f.count + len(f.messages) for u in self.users for f in u.folders)

    @property
    def domains(self) -> list[str]:
        return sorted({user.domain for user in self.users})

    @property
    def changes_old(self) -> bool:
        """Whether steps are meant to change old's mail (cutover steps)."""
        return any(step.changes_old for step in self.steps)
