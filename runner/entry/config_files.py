"""What `capture --config` reads in Dovecot's and Postfix's files, and what it leaves out of
them. Pure: text in, text out (runner/entry/capture_config.py does the reading and writing).

- References: which files a configuration names. Dovecot: `!include`/`!include_try` (relative
  to the including file, globs), and absolute paths in setting values (`args = ...`, 2.4's
  `*_path`/`*_file`, `<file` values, `mysql:/etc/dovecot/dict.conf.ext`); the file's kind
  comes from the setting (a passdb/userdb with `driver = passwd-file` names a passwd-file).
  Postfix: `type:/path` map references in main.cf and master.cf values (`proxy:mysql:...`,
  `hash:...`), and `*_file` settings.
- Redaction: every secret becomes SECRET_PLACEHOLDER, line by line, the file's layout kept.
  A file named by a secret setting (`doveadm_password = </etc/dovecot/pw`) or a private-key
  setting (`ssl_key`, 2.4's `ssl_server_key_file`, `auth_krb5_keytab`, Postfix's
  `*_tls_key_file`) is never copied; its path stays in the setting, so the lab knows what to
  make.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal

from ..schema.vocabulary import SECRET_PLACEHOLDER

SECRET = SECRET_PLACEHOLDER
DOVECOT_DIR, POSTFIX_DIR = "/etc/dovecot", "/etc/postfix"

# The file a reference names is read as ...: dovecot (Dovecot's syntax: .conf, .conf.ext and
# anything else under /etc/dovecot), passwd-file (Dovecot's user:password:... files), main.cf,
# master.cf, postfix-map (a map's source or a mysql/pgsql/ldap .cf), sasl-passwords (a map of
# smtp_sasl_password_maps), or not at all: secret, private-key.
Kind = Literal["dovecot", "passwd-file", "main.cf", "master.cf", "postfix-map", "sasl-passwords", "secret",
               "private-key"]


@dataclass(frozen=True)
class Reference:
    path: str  # absolute, as on the host (a glob for an include)
    kind: Kind
    by: str  # what names it: "dovecot.conf:12 args", for the notes
    include: bool = False  # an `!include`: a glob, expanded
    required: bool = False  # `!include` (not _try): its absence is noted


# -- Dovecot ------------------------------------------------------------------------------
SETTING = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.-]+)(?P<eq>\s*=\s*)(?P<value>.*?)\s*$")
SECTION = re.compile(r"^\s*(?P<type>[A-Za-z0-9_.-]+)(?:\s+(?P<name>\S.*?))?\s*\{\s*$")
INCLUDE = re.compile(r"^\s*!(?P<how>include|include_try)\s+(?P<path>\S+)\s*$")
# settings whose value is a secret: passwords (2.4's `password` in a mysql/pgsql/ldap block and
# of a static passdb; ldap's `dnpass`), OAuth2 client secrets, the auth policy's nonce and header
DOVECOT_SECRET_KEY = re.compile(r"^(?:.*_)?password$|^dnpass$|_secret$|^auth_policy_hash_nonce$"
                                r"|^auth_policy_server_api_header$")
# settings naming a private key (or holding one inline): the file is never copied
DOVECOT_KEY_FILE = re.compile(r"^ssl(?:_client|_server|_alt|_server_alt)?_key(?:_file)?$|private_key"
                              r"|^auth_krb5_keytab$|^auth_gssapi_keytab$")
# a connect string's or args' `password=...` (MySQL, PostgreSQL conninfo, a static passdb)
PASSWORD_TOKEN = re.compile(r"(?<![\w.-])(?P<key>password|passwd|pass)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"']+)",
                            re.IGNORECASE)
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s/:@]+:)(?P<value>[^\s/@]+)(?=@)", re.IGNORECASE)
PATH_TOKEN = re.compile(r"(?:^|(?<=[\s=<:,]))(/etc/[^\s,;\"'{}]+)")
# a line of a passwd-file (user:{SCHEME}hash:... or a crypt hash), whatever named the file
PASSWD_LINE = re.compile(r"^[^\s:#]+:(?:\{[A-Za-z0-9._-]+\}|\$[0-9a-z]+\$)")


def _tokens(value: str) -> str:
    """`password=...` tokens and URL passwords in a value replaced."""
    value = PASSWORD_TOKEN.sub(lambda m: f"{m['key']}={SECRET}", value)
    return URL_PASSWORD.sub(lambda m: f"{m['head']}{SECRET}", value)


def _by_line(text: str, change) -> str:
    """`change` applied to each line's text, its line ending kept."""
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        lines.append(change(body) + line[len(body):])
    return "".join(lines)


def _dovecot_line(line: str) -> str:
    match = SETTING.match(line)
    if not match or not match["value"]:
        return line
    key, value = match["key"].lower(), match["value"]
    if DOVECOT_SECRET_KEY.search(key):
        value = SECRET
    elif DOVECOT_KEY_FILE.search(key) and not value.startswith(("<", "/")):
        value = SECRET  # a key given inline
    else:
        value = _tokens(value)
    return f"{match['indent']}{match['key']}{match['eq']}{value}"


def redact_dovecot(text: str) -> str:
    """Dovecot's syntax (dovecot.conf, conf.d/, *.conf.ext, `doveconf -n`): secret settings'
    values, inline private keys, connect-string and URL passwords replaced."""
    return _by_line(text, _dovecot_line)


def redact_passwd_file(text: str) -> str:
    """Dovecot's passwd-file (user:password:uid:gid:...; master users too): the password field."""
    def line(body: str) -> str:
        fields = body.split(":")
        if body.lstrip().startswith("#") or len(fields) < 2 or not fields[1]:
            return body
        return ":".join([fields[0], SECRET, *fields[2:]])
    return _by_line(text, line)


def looks_like_passwd_file(text: str) -> bool:
    """A safety net for a passwd-file named in a way the references do not see."""
    return any(PASSWD_LINE.match(line) for line in text.splitlines())


def dovecot_references(text: str, path: str, name: str | None = None) -> list[Reference]:
    """The files a Dovecot configuration file at `path` names (or `doveconf -n` of the
    configuration at `path`, `name` saying so in the notes)."""
    directory = posixpath.dirname(path)
    name = name or posixpath.basename(path)
    found: list[Reference] = []
    sections: list[dict] = []  # the open sections: their settings (for a passdb's driver)
    pending: list[tuple[dict, int, str, str]] = []  # (section, line, key, value) decided at its close
    for number, line in enumerate(text.splitlines(), 1):
        if match := INCLUDE.match(line):
            target = posixpath.normpath(posixpath.join(directory, match["path"]))
            found.append(Reference(target, "dovecot", f"{name}:{number} !{match['how']}", include=True,
                                   required=match["how"] == "include"))
        elif SECTION.match(line):
            sections.append({})
        elif line.strip() == "}":
            if sections:
                sections.pop()
        elif (match := SETTING.match(line)) and match["value"]:
            key, value = match["key"].lower(), match["value"]
            section = sections[-1] if sections else {}
            section[key] = value
            pending.append((section, number, key, value))
    for section, number, key, value in pending:
        if DOVECOT_SECRET_KEY.search(key):
            kind: Kind = "secret"
        elif DOVECOT_KEY_FILE.search(key):
            kind = "private-key"
        elif key == "passwd_file_path" or (key == "args" and section.get("driver") == "passwd-file"):
            kind = "passwd-file"
        else:
            kind = "dovecot"
        for target in PATH_TOKEN.findall(value):
            found.append(Reference(posixpath.normpath(target), kind, f"{name}:{number} {key}"))
    return found


def doveconf_config_path(doveconf_n: str) -> str | None:
    """The configuration file `doveconf -n` read: its first line, `# 2.3.19.1 (9b53102964): /etc/dovecot/dovecot.conf`."""
    first = doveconf_n.split("\n", 1)[0]
    match = re.match(r"^#.*?: (/\S+)$", first)
    return match[1] if match else None


# -- Postfix -------------------------------------------------------------------------------
POSTFIX_SETTING = re.compile(r"^(?P<key>[A-Za-z0-9_]+)(?P<eq>\s*=\s*)(?P<value>.*)$")
MAP_REFERENCE = re.compile(r"(?:[a-z0-9_]+:)+(/[^\s,{}()]+)")
FILE_SETTING = re.compile(r"_files?$")
POSTFIX_KEY_FILE = re.compile(r"(?:^|_)tls_(?:\w+_)?(?:d|ec)?key_file$|tls_\w*chain_files$|^tls_key$")
SASL_PASSWORDS = re.compile(r"sasl_password_maps$")
# a database map's password (mysql, pgsql: password; ldap: bind_pw)
POSTFIX_SECRET_KEY = re.compile(r"^(?:password|bind_pw)$")
STATIC_SECRET = re.compile(r"(static:)(\{[^}]*\}|\S+)")
INLINE_SECRET = re.compile(r"(inline:\{)([^}]*)(\})")


def _postfix_logical(text: str) -> list[tuple[int, str, str | None]]:
    """main.cf's physical lines, each with the setting it belongs to (continuations start
    with whitespace)."""
    lines, key = [], None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if line.strip().startswith("#") or not line.strip():
            lines.append((number, line, None))
            continue
        if not line[0].isspace():
            match = POSTFIX_SETTING.match(line)
            key = match["key"] if match else None
        lines.append((number, line, key))
    return lines


def _sasl_value(value: str) -> str:
    """A password map given inline (`static:user:pass`, `inline:{ relay=user:pass }`)."""
    value = STATIC_SECRET.sub(lambda m: f"{m[1]}{SECRET}", value)
    return INLINE_SECRET.sub(lambda m: m[1] + re.sub(r"=\s*([^,}\s]+)", f"={SECRET}", m[2]) + m[3], value)


def redact_main_cf(text: str) -> str:
    """main.cf (and `postconf -n`): passwords of a SASL password map given inline, URL passwords."""
    return "".join(_tokens(_sasl_value(line) if key and SASL_PASSWORDS.search(key) else line)
                   for _, line, key in _postfix_logical(text))


def redact_master_cf(text: str) -> str:
    """master.cf (and `postconf -M`): `-o ..._sasl_password_maps=static:...` overrides."""
    return "".join(_sasl_value(line) if "sasl_password_maps" in line else line
                   for line in text.splitlines(keepends=True))


def redact_postfix_map(text: str) -> str:
    """A database map's .cf (mysql, pgsql, ldap): `password =`, `bind_pw =`."""
    def line(body: str) -> str:
        match = POSTFIX_SETTING.match(body.strip())
        if not match or not POSTFIX_SECRET_KEY.match(match["key"].lower()) or not match["value"].strip():
            return body
        return body[:len(body) - len(body.lstrip())] + f"{match['key']}{match['eq']}{SECRET}"
    return _by_line(text, line)


def redact_sasl_passwords(text: str) -> str:
    """smtp_sasl_password_maps' source (`[relay]:587 user:password`): the password."""
    def line(body: str) -> str:
        parts = body.split(None, 1)
        if len(parts) < 2 or body.lstrip().startswith("#"):
            return body
        user, colon, _ = parts[1].strip().partition(":")
        return body[:body.index(parts[1])] + (f"{user}:{SECRET}" if colon else SECRET)
    return _by_line(text, line)


def postfix_references(text: str, name: str) -> list[Reference]:
    """The files main.cf, master.cf (`name` starting with "master"), `postconf -n` or `-M`
    names: maps and `*_file` settings."""
    found: list[Reference] = []
    for number, line, key in _postfix_logical(text):
        if name.startswith("master"):
            pairs = re.findall(r"-o\s+([A-Za-z0-9_]+)=(\S+)", line)
        else:
            pairs = [(key, line if line[0].isspace() else line.partition("=")[2])] if key else []
        for setting, value in pairs:
            value = value.replace("${config_directory}", POSTFIX_DIR).replace("$config_directory", POSTFIX_DIR)
            if POSTFIX_KEY_FILE.search(setting):
                kind: Kind = "private-key"
            elif SASL_PASSWORDS.search(setting):
                kind = "sasl-passwords"
            else:
                kind = "postfix-map"
            paths = MAP_REFERENCE.findall(value)
            if FILE_SETTING.search(setting):
                paths += [token for token in re.split(r"[\s,]+", value) if token.startswith("/")]
            found += [Reference(posixpath.normpath(path), kind, f"{name}:{number} {setting}") for path in paths]
    return found


def holds_private_key(data: bytes) -> bool:
    """A PEM or OpenSSH private key (or a PKCS#12 keystore's marker) anywhere in the file."""
    return b"PRIVATE KEY-----" in data


REDACT = {"dovecot": redact_dovecot, "passwd-file": redact_passwd_file, "main.cf": redact_main_cf,
          "master.cf": redact_master_cf, "postfix-map": redact_postfix_map, "sasl-passwords": redact_sasl_passwords}


def redact(kind: Kind, text: str) -> str:
    """The text of a file of `kind` with its secrets replaced; a Dovecot file that holds
    passwd-file lines is taken as one."""
    if kind == "dovecot" and looks_like_passwd_file(text):
        kind = "passwd-file"
    return REDACT[kind](text)
