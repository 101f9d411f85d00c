"""The words a scenario is written in, each defined once: suites, roles, services, flags,
properties, databases, and the shapes of the strings a scenario may hold.

Everything else derives from these (`typing.get_args`), so a new suite, service or property
is added here and nowhere else. Pure data: importing this module starts nothing.
"""

from __future__ import annotations

import re
import unicodedata
from string import ascii_lowercase
from typing import Annotated, Literal, get_args

from imapclient import imap_utf7
from pydantic import AfterValidator, Field

Suite = Literal["bullseye", "bookworm", "trixie"]
SUITES: tuple[str, ...] = get_args(Suite)
Role = Literal["old", "new"]
# Where a user's script may run: a server, or a machine of its own on the lab network.
Machine = Literal["old", "new", "migrator"]
Service = Literal["dovecot", "postfix", "mariadb", "sshd"]
MailFormat = Literal["maildir", "mdbox"]
UserStore = Literal["sql", "passwd-file"]
Compression = Literal["none", "gz", "zstd"]
Namespace = Literal["dovecot", "courier"]
# How Dovecot lays folders out on disk (2.3: mail_location's LAYOUT=, 2.4: mailbox_list_layout):
# Maildir++ ('A/B' is the directory '.A.B', Maildir's default) or fs ('A/B' is 'A/B').
Layout = Literal["maildir++", "fs"]
# Storage escape characters (2.3: listescape_char, 2.4: mailbox_list_storage_escape_char): only
# those measured in the lab (tests/unit/test_folder_layouts.py) and outside modified UTF-7's
# alphabet, which Dovecot would otherwise escape inside an encoded run.
EscapeChar = Literal["\\", "^"]
# The Dovecot each suite ships (dovecot-core: bullseye 2.3.13, bookworm 2.3.19, trixie 2.4.1).
DOVECOT_SERIES: dict[str, str] = {"bullseye": "2.3", "bookworm": "2.3", "trixie": "2.4"}
# The IMAP/POP3 server a host runs: Dovecot (the lab's mail host), or a real Courier-IMAP or
# Cyrus IMAP as old (docs/foreign-servers.md), from Debian's packages.
MailServerKind = Literal["dovecot", "courier", "cyrus", "gmail"]
# What each server other than Dovecot does not have, by property: reported as "not checked",
# never as a finding.
SERVER_LACKS: dict[str, dict[str, str]] = {
    "courier": {"guids": "Courier has no GUIDs", "sieve": "Courier has no Sieve (its filters are maildrop's)",
                "db_rows": "Courier keeps its users in its userdb, not in SQL"},
    "cyrus": {"guids": "Cyrus shows clients no GUIDs", "db_rows": "Cyrus keeps its users in sasldb, not in SQL"},
    "gmail": {"sieve": "Gmail has no Sieve (its filters are settings of the account, not over IMAP)",
              "db_rows": "Gmail keeps its users in Google's accounts, not in SQL"},
}
# Gmail's folder of every message (SPECIAL-USE \All), archived mail included: a view, not a label
# (docs/gmail.md). Its X-GM-MSGID is what the snapshot reads as a Gmail message's GUID: Dovecot's
# imapc makes it the message's GUID on new (measured).
GMAIL_ALL_MAIL = "[Gmail]/All Mail"
# Gmail's POP3 UIDL of a message, from its X-GM-MSGID (Dovecot's imapc-mail.c: "GmailId%"PRIx64),
# and the keyword Dovecot's gmail-migration gives what Gmail's POP3 had deleted (seed 002's
# pop3_deleted_flag, as its example names it)
GMAIL_UIDL = "GmailId{:x}"
GMAIL_POP3_DELETED = "$POP3Deleted"
# The upgrades in place a rehearsal runs (method dist_upgrade): each suite to the next, as the
# Debian release notes support them (never one skipped).
NEXT_SUITE: dict[str, str] = {"bullseye": "bookworm", "bookworm": "trixie"}
# The personal namespace's prefix and separator, by style: Dovecot's default, or Courier's
# `INBOX.` prefix with `.` (what many old servers show their clients).
NAMESPACES: dict[str, tuple[str, str]] = {"dovecot": ("", "/"), "courier": ("INBOX.", ".")}
# The namespace style each server other than Dovecot shows (Courier and Cyrus: `INBOX.` with
# '.'; Gmail: '/' at the top, as Dovecot's default)
SERVER_NAMESPACE: dict[str, str] = {"courier": "courier", "cyrus": "courier", "gmail": "dovecot"}
# Password schemes a host's users may have (docs/password-schemes.md): every one `doveadm pw -l`
# lists in the lab's images whose hash `doveadm pw -s` makes from the password alone and
# `doveadm pw -t` verifies (not DIGEST-MD5: it needs the user name; not PLAIN-TRUNC: a length).
PasswordScheme = Literal[
    "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "MD5-CRYPT", "DES-CRYPT", "CRYPT", "MD5", "ARGON2I", "ARGON2ID",
    "ARGON2", "PBKDF2", "SCRAM-SHA-1", "SCRAM-SHA-256", "SSHA512", "SSHA256", "SSHA", "SMD5", "SHA512", "SHA256",
    "SHA1", "SHA", "PLAIN-MD5", "PLAIN-MD4", "LDAP-MD5", "CRAM-MD5", "HMAC-MD5", "OTP", "PLAIN", "CLEAR", "CLEARTEXT",
]
DEFAULT_PASSWORD_SCHEME = "SHA512-CRYPT"  # what the lab's hosts have always used
# The schemes each suite's `doveadm pw` makes (measured in the lab's images: `doveadm pw -l`,
# then -s and -t of each): all of them but ARGON2, 2.4's own name for ARGON2ID.
SUITE_SCHEMES: dict[str, frozenset[str]] = {
    "bullseye": frozenset(get_args(PasswordScheme)) - {"ARGON2"},
    "bookworm": frozenset(get_args(PasswordScheme)) - {"ARGON2"},
    "trixie": frozenset(get_args(PasswordScheme)),
}
# Hashes that crypt(3) tells apart by their own look ($1$, $2y$, $5$, $6$, none for DES): stored
# without `{SCHEME}`, the lab's passdb (default scheme SHA512-CRYPT) still verifies them
# (measured with `doveadm auth test`; 2.4 still refuses the weak ones among them). A bare hash
# of any other scheme is read as SHA512-CRYPT and never matches.
# What Dovecot 2.4 refuses as weak unless auth_allow_weak_schemes = yes (measured on trixie:
# `doveadm auth test` of a user of each scheme; SHA1, SHA and CRAM-MD5 pass). A bare DES or $1$
# hash is refused under the name of the scheme crypt(3) sees (DES-CRYPT, MD5-CRYPT).
WEAK_SCHEMES_24 = frozenset({"MD5-CRYPT", "DES-CRYPT", "MD5", "SMD5", "PLAIN-MD5", "PLAIN-MD4", "LDAP-MD5", "HMAC-MD5"})
CRYPT_SCHEMES = frozenset({"SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "MD5-CRYPT", "DES-CRYPT", "CRYPT", "MD5"})
Database = Literal["mailserver", "roundcube"]
DATABASES: tuple[str, ...] = get_args(Database)
SystemFlag = Literal["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]
SYSTEM_FLAGS: tuple[str, ...] = get_args(SystemFlag)
# Maildir's letters in a file name's info (`:2,FS`): the system flags, and the keywords a-z in
# the order of the folder's dovecot-keywords file (Dovecot keeps any further ones in its index)
MAILDIR_FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
MAILDIR_KEYWORD_LETTERS = ascii_lowercase
# What a migration can keep or lose. `expect.lost` names the ones a method is declared to
# lose; every other one must hold. Each finding class belongs to one of these (findings.py).
Property = Literal[
    "source", "services", "logins", "idempotence", "folders", "messages", "content", "flags",
    "keywords", "dates", "guids", "uids", "uidvalidity", "subscriptions", "sieve", "pop3_uidls",
    "db_rows", "delivery", "tls", "config",
]
PROPERTIES: tuple[str, ...] = get_args(Property)

# -- limits of what the servers store ------------------------------------------------------
ADDRESS_MAX = 100  # mailserver.virtual_users.email is varchar(100) (dockerfiles/mailhost/mailserver-schema.sql)
DOMAIN_MAX = 50  # mailserver.virtual_domains.name is varchar(50)
LOCAL_PART_MAX = 64  # RFC 5321 4.5.3.1.1
NAME_MAX = 255  # bytes of one directory name: a Maildir++ folder '.A.B' is one directory
HEADER_MAX = 998  # RFC 5322 2.1.1: characters in one header line
QUOTA_MAX = 2**63 - 1  # virtual_users.quota is a signed bigint
MESSAGE_MAX = 50_000_000  # bytes of one generated message or attachment
# Mail lives on a tmpfs of this size on every host (lab/containers.py); a scenario whose mail
# would not fit is refused when it is loaded, not when seeding runs out of space.
MAIL_STORE_BYTES = 8 * 2**30


def _reject_control(value: str, what: str, allow: str = "") -> None:
    """No control characters (newline, TAB, NUL, ESC, DEL...) except those in `allow`."""
    for char in value:
        if (char < " " or char == "\x7f") and char not in allow:
            raise ValueError(f"{what} must not contain control characters (found {char!r})")


def checked_str(check, *constraints):
    """An annotated string type whose values pass `check` (which raises ValueError)."""
    def validate(value: str) -> str:
        check(value)
        return value
    return Annotated[str, *constraints, AfterValidator(validate)]


def shaped(pattern: str, what: str):
    """A check: the whole value matches `pattern`, else '<value> is not <what>'."""
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        _reject_control(value, "the value")
        if not compiled.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not {what}")
    return check


# Printable text on one line (subjects, senders, descriptions, Roundcube fields).
HeaderText = checked_str(lambda v: _reject_control(v, "this text"), Field(max_length=HEADER_MAX))
# Text a command line can carry (argv has no NUL); newlines and TABs are fine.
ArgText = checked_str(lambda v: _reject_control(v, "this text", allow="\t\n\r"))

DOMAIN_PATTERN = r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}"
ADDRESS = re.compile(rf"(?P<local>[a-z0-9._+-]+)@(?P<domain>{DOMAIN_PATTERN})")


def _address(value: str) -> None:
    _reject_control(value, "an address")
    found = ADDRESS.fullmatch(value)
    if not found:
        raise ValueError(f"{value[:80]!r} is not a mail address the lab can host (lower-case local@domain.tld; "
                         "letters, digits, '.', '_', '+', '-')")
    local = found["local"]
    if ".." in local or local.startswith(".") or local.endswith("."):
        raise ValueError(f"'{value}': the local part must not start or end with '.' or hold '..'")
    if len(local) > LOCAL_PART_MAX:
        raise ValueError(f"'{value[:30]}...': the local part is longer than {LOCAL_PART_MAX} characters")
    if len(found["domain"]) > DOMAIN_MAX:
        raise ValueError(f"'{value[:30]}...': the domain is longer than the {DOMAIN_MAX} characters "
                         "virtual_domains.name holds")
    if len(value) > ADDRESS_MAX:
        raise ValueError(f"'{value[:30]}...' is longer than the {ADDRESS_MAX} characters virtual_users.email holds")


Address = checked_str(_address)
Domain = checked_str(shaped(DOMAIN_PATTERN, "a domain name (lower case, dot-separated)"), Field(max_length=DOMAIN_MAX))

# RFC 3501 atom: printable ASCII but the atom-specials ( ) { SP % * " \ ]
_keyword = shaped(r'[!#$&\'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]{1,100}',
                   "a valid IMAP keyword (an atom of at most 100 characters: no spaces or ( ) { % * \" \\ ])")
Keyword = checked_str(_keyword)
# A flag a step may set or clear: a system flag or a keyword.
Flag = checked_str(lambda v: None if v in SYSTEM_FLAGS else _keyword(v))


def maildir_folder_path(name: str, layout: Layout = "maildir++", escape: str | None = None) -> str:
    """The directory under the Maildir root where Dovecot keeps folder `name` ('A/B' in the
    scenario), as the lab measured it: each level in modified UTF-7, then, with an escape
    character, that character and the layout's own separator written as <char><two hex digits>
    (2.3's listescape plugin and 2.4's mailbox_list_storage_escape_char give the same names;
    they also escape a leading '~', which no scenario name has). INBOX is the root."""
    if name == "INBOX":
        return ""
    separator = "." if layout == "maildir++" else "/"
    special = {separator, escape}
    levels = []
    for level in name.split("/"):
        encoded = imap_utf7.encode(level).decode("ascii")
        if escape:
            encoded = "".join(f"{escape}{ord(char):02x}" if char in special else char for char in encoded)
        levels.append(encoded)
    joined = separator.join(levels)
    return "." + joined if layout == "maildir++" else joined


def _folder(name: str) -> None:
    _reject_control(name, "a folder name")
    parts = name.split("/")
    # '.' inside a level depends on the host's layout (HostSpec.folder_problem); '.' and '..' as
    # a level would be directories of their own in the fs layout.
    if any(part in ("", ".", "..") or "\\" in part for part in parts):
        raise ValueError(f"'{name}' is not a folder name the lab can keep: use '/' between levels, "
                         "no empty levels, no '.' or '..' as a level, no '\\'")
    if any(char in name for char in "*%") or name.startswith("~"):
        raise ValueError(f"'{name}': IMAP folder names hold no '*' or '%', and none starts with '~'")
    if any(unicodedata.category(char) in ("Cs", "Co", "Cn") for char in name):
        raise ValueError(f"'{name}' holds characters that are not assigned in Unicode")
    if parts[0].upper() == "INBOX" and parts[0] != "INBOX":
        raise ValueError("write INBOX in capitals")
    if len(maildir_folder_path(name).encode()) > NAME_MAX:
        raise ValueError(f"'{name[:30]}...' is longer than a mailbox name can be ({NAME_MAX} bytes as a "
                         "Maildir++ directory, in modified UTF-7)")


FolderName = checked_str(_folder)
# Names that become file or directory names: scenario names (the report folder), Sieve scripts.
PlainName = checked_str(shaped(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
                             "a plain name (letters, digits, '.', '_', '-'; at most 64; no '..')"))
MessageId = checked_str(shaped(r"<[!-;=?A-~]{1,400}@[!-;=?A-~]{1,400}>", "a Message-ID shaped <left@right>"))
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"  # RFC 6838 restricted-name
ContentType = checked_str(shaped(f"{_TOKEN}/{_TOKEN}", "a content type shaped type/subtype"))
FileName = checked_str(shaped(r"(?!\.\.?$)[^/\\\x00-\x1f\x7f]{1,200}", "a file name (no '/', '\\' or control characters)"))
# A path to the admin's own mail files (relative to the scenario file); it never reaches a
# shell, and the loader checks that it is there and readable.
SourcePath = checked_str(lambda v: _reject_control(v, "a path"), Field(min_length=1, max_length=4096))

# What `capture --config` writes in place of each secret of the admin's configuration (a
# password in a connect string or a map, doveadm_password, a password hash): one constant,
# for the lab to replace with its own.
SECRET_PLACEHOLDER = "@MAILLAB_SECRET@"
