"""OpenLDAP (Debian's slapd) as a host's user store (docs/own-server.md, "LDAP (slapd)").

The image carries slapd unconfigured. `start` writes its cn=config with `slapadd -n0`: Debian's
core, cosine, nis and inetorgperson schemas, the admin's schema entries, and one mdb database
for the store's suffix, whose rootdn `cn=admin,<suffix>` has the lab's password (salted SHA-1,
slapd's {SSHA}) and is the DN the admin's Dovecot and Postfix configuration binds as (the
lab rewrites their `dn`/`bind_dn`, lab/own_config.py). The admin's DIT entries go in with
`slapadd -n1`. slapd listens on ldap://127.0.0.1/ (the mail services) and ldapi:/// (the lab's
own reads and writes, as root by SASL EXTERNAL). It runs under the host's supervisord as the
program `slapd`, added to its configuration at run time (the image has none): a host that
restarts (`docker restart`) starts it again with its other services.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from ..command import Command
from ..poll import NotYet, poll
from .ldif import dn_of, entries, render, text_of

SLAPD_D = "/etc/ldap/slapd.d"  # cn=config, as Debian keeps it
DATA = "/var/lib/ldap"  # the mdb database
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")  # Debian's default set, /etc/ldap/schema/*.ldif
LISTEN = "ldap://127.0.0.1/ ldapi:///"
LDAPI = "ldapi:///"
ROOT_BY_SOCKET = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"  # root over ldapi (EXTERNAL)
SUPERVISOR_CONF = "/etc/supervisor/maillab.conf"  # the host's supervisord (dockerfiles/mailhost)
STAGING = "/run/maillab-ldap"  # LDIF files on their way into slapd (root only)
PASSWORD_ATTRIBUTE = "userpassword"
TIMEOUT = 60  # seconds for each of slapadd, ldapadd, slapcat on the lab's few entries
ANSWER_TIMEOUT = 30  # seconds slapd has to answer after it starts


def bind_dn(suffix: str) -> str:
    """The DN the mail services bind as: the database's rootdn."""
    return f"cn=admin,{suffix}"


def ssha(password: str, salt: bytes | None = None) -> str:
    """`{SSHA}` of slapd (salted SHA-1, base64 of digest then salt): a rootpw slapd checks."""
    salt = salt if salt is not None else os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def split_schema(text: str) -> tuple[list[str], list[str], list[str]]:
    """The admin's LDIF as (schema entries under cn=schema,cn=config; other cn=config entries,
    such as an overlay; entries of the DIT), each entry as LDIF text."""
    schema, config, dit = [], [], []
    for entry in entries(text):
        dn = dn_of(entry).lower().replace(" ", "")
        target = schema if dn.endswith(",cn=schema,cn=config") else config if dn.endswith("cn=config") else dit
        target.append(text_of(entry))
    return schema, config, dit


def config_ldif(suffix: str, rootpw: str, schema: list[str], config: list[str]) -> str:
    """cn=config for `slapadd -n0`, the standard schemas left out (the host's files are put in
    where the line `# @SCHEMAS@` stands): the global entry, back_mdb, the schemas, the admin's
    schema, the frontend, the config database, the suffix's mdb database, the admin's other
    cn=config entries. Root over ldapi manages both databases; the rootdn reads and writes the
    suffix; anyone else reads everything but userPassword, which they may only bind with."""
    root = f'dn.exact="{ROOT_BY_SOCKET}"'
    head = f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: /run/slapd/slapd.pid
olcArgsFile: /run/slapd/slapd.args

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

# @SCHEMAS@
"""
    databases = f"""dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by {root} manage by * break

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {DATA}
{line_of_suffix(suffix)}
{line_of_root(suffix)}
olcRootPW: {rootpw}
olcDbIndex: objectClass eq
olcAccess: {{0}}to attrs=userPassword by {root} manage by anonymous auth by * none
olcAccess: {{1}}to * by {root} manage by * read
"""
    return "\n".join([head, *schema, databases, *config])


def line_of_suffix(suffix: str) -> str:
    return text_of([("olcSuffix", suffix)]).strip()


def line_of_root(suffix: str) -> str:
    return text_of([("olcRootDN", bind_dn(suffix))]).strip()


# Writes cn=config and the DIT's base, then adds slapd to supervisord's programs and starts it.
# $1 the staging folder (config.ldif with "# @SCHEMAS@", dit.ldif), $2 the suffix, $3.. the
# standard schemas' names.
SETUP = r"""set -eu
staging=$1 suffix=$2; shift 2
schemas=
for name; do schemas="$schemas /etc/ldap/schema/$name.ldif"; done
rm -rf @SLAPD_D@ @DATA@/*
install -d -o openldap -g openldap -m 0750 @SLAPD_D@ /run/slapd
{ sed -n '1,/^# @SCHEMAS@$/p' "$staging/config.ldif"
  for file in $schemas; do echo; cat "$file"; echo; done
  sed '1,/^# @SCHEMAS@$/d' "$staging/config.ldif"; } > "$staging/slapd-config.ldif"
slapadd -n0 -F @SLAPD_D@ -l "$staging/slapd-config.ldif"
slapadd -F @SLAPD_D@ -b "$suffix" -l "$staging/dit.ldif"
chown -R openldap:openldap @SLAPD_D@ @DATA@
grep -q '^\[program:slapd\]' @CONF@ || cat >> @CONF@ <<'PROGRAM'

; the LDAP user store (added by the lab at run time: lab/stores/ldap.py)
[program:slapd]
command = /bin/sh -c 'install -d -o openldap -g openldap /run/slapd && exec /usr/sbin/slapd -d none -h "@LISTEN@" -u openldap -g openldap -F @SLAPD_D@'
priority = 5
stdout_logfile = /dev/stdout
stdout_logfile_maxbytes = 0
redirect_stderr = true
PROGRAM
supervisorctl update slapd
""".replace("@SLAPD_D@", SLAPD_D).replace("@DATA@", DATA).replace("@CONF@", SUPERVISOR_CONF).replace(
    "@LISTEN@", LISTEN)


def searched(suffix: str, *options: str) -> Command:
    """ldapsearch of the whole suffix as root over ldapi, unwrapped LDIF."""
    return Command.of("ldapsearch", "-Q", "-Y", "EXTERNAL", "-H", LDAPI, "-LLL", "-o", "ldif_wrap=no",
                      "-b", suffix, *options)


def wait_until_answering(host, suffix: str, timeout: float = ANSWER_TIMEOUT) -> None:
    def answers() -> None:
        result = host.run(searched(suffix, "-s", "base", "1.1"), timeout=TIMEOUT)
        if result.exit_code != 0:
            raise NotYet(f"ldapsearch: exit {result.exit_code}: {result.output[-200:]}")
    poll(f"slapd on '{host.role}' to answer for {suffix}", answers, timeout=timeout, interval=0.1)


def start(host, suffix: str, schema_text: str, password: str) -> None:
    """slapd with the admin's schema and DIT base under `suffix`, its rootdn's password the
    lab's `password`, answering when this returns."""
    schema, config, dit = split_schema(schema_text)
    put(host, "config.ldif", config_ldif(suffix, ssha(password), schema, config))
    put(host, "dit.ldif", "\n".join(dit))
    host.run_checked(Command.script(SETUP, STAGING, suffix, *SCHEMAS, display=f"setting up slapd for {suffix}"),
                     f"setting up slapd for {suffix}", timeout=TIMEOUT)
    host.run_checked(Command.of("rm", "-rf", STAGING), "removing slapd's staged LDIF")
    wait_until_answering(host, suffix)


def put(host, name: str, text: str) -> None:
    host.run_checked(Command.of("install", "-d", "-m", "0700", STAGING), "making slapd's staging folder")
    host.put_file(f"{STAGING}/{name}", text.encode(), mode=0o600)


def write_users(host, templates: dict[str, str], rows: dict[str, list[dict[str, str]]],
                placeholders: frozenset[str]) -> None:
    """Each row rendered by its kind's template (domains, then users, then aliases), added with
    ldapadd as root over ldapi."""
    text = "\n".join(render(templates[kind], row, placeholders)
                     for kind in ("domain", "user", "alias") if kind in templates for row in rows.get(kind, []))
    if not text:
        return
    put(host, "users.ldif", text)
    try:
        host.run_checked(Command.of("ldapadd", "-Q", "-Y", "EXTERNAL", "-H", LDAPI, "-f", f"{STAGING}/users.ldif"),
                         "adding the users to slapd", timeout=TIMEOUT)
    finally:
        host.run_checked(Command.of("rm", "-rf", STAGING), "removing slapd's staged LDIF")


def dump(host) -> bytes:
    """Every entry of the suffix's database as slapcat writes it (operational attributes too)."""
    return host.run_checked(Command.of("slapcat", "-n1", "-F", SLAPD_D, "-o", "ldif_wrap=no"),
                            "slapcat of the user store", timeout=TIMEOUT).stdout.encode()


# slapadd wants slapd stopped: the database is replaced by the dump, as an admin moves one
# (supervisorctl stop slapd; slapadd; start).
LOAD = r"""set -eu
supervisorctl stop slapd >/dev/null
rm -rf @DATA@/*
slapadd -n1 -F @SLAPD_D@ -l "$1"
chown -R openldap:openldap @DATA@
supervisorctl start slapd >/dev/null
""".replace("@SLAPD_D@", SLAPD_D).replace("@DATA@", DATA)


def load(host, suffix: str, data: bytes) -> None:
    """The suffix's database replaced by `data` (a dump of another host's), answering again."""
    put(host, "dump.ldif", data.decode())
    try:
        host.run_checked(Command.script(LOAD, f"{STAGING}/dump.ldif", display="slapadd -n1 of old's dump"),
                         "loading the user store", timeout=TIMEOUT)
    finally:
        host.run_checked(Command.of("rm", "-rf", STAGING), "removing slapd's staged LDIF")
    wait_until_answering(host, suffix)


def rows(host, suffix: str, key: str) -> dict[str, dict[str, str]]:
    """Every entry under the suffix (user attributes), by DN: each attribute's values sorted,
    one a line; userPassword a digest keyed with `key`, as the snapshot shows SQL passwords."""
    found = {}
    listed = host.run_checked(searched(suffix), "reading the user store", timeout=TIMEOUT).stdout
    for entry in entries(listed):
        values: dict[str, list[str]] = {}
        for name, value in entry[1:]:
            if name.lower() == PASSWORD_ATTRIBUTE:
                value = "hmac-sha256:" + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]
            values.setdefault(name, []).append(value)
        found[dn_of(entry)] = {name: "\n".join(sorted(v)) for name, v in values.items()}
    return found
