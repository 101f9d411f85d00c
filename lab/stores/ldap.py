"""OpenLDAP (Debian's slapd) as a host's user store (docs/own-server.md, "LDAP (slapd)").

The image carries slapd unconfigured. `start` writes its cn=config with `slapadd -n0`: Debian's
core, cosine, nis and inetorgperson schemas, the admin's schema entries, and one mdb database
for the store's suffix, whose rootdn `cn=admin,<suffix>` has the lab's password (salted SHA-1,
slapd's {SSHA}) and is the DN the admin's Dovecot and Postfix configuration binds as (the
lab rewrites their `dn`/`bind_dn`, lab/own_config.py). The admin's DIT entries go in with
`slapadd -b <suffix>`. slapd listens on ldap://127.0.0.1/ (the mail services) and ldapi:/// (the
lab's own reads and writes, as root by SASL EXTERNAL). It runs as a daemon outside supervisord
(the image has no program for it): `boot_script` starts it, at every boot of the host before its
services (a restart, the new-server-reboots fault) and once `start` has set it up.
"""

from __future__ import annotations

import base64
import hashlib
import os

from ...runner.schema.stores import UserStoreSpec
from ..command import Command
from ..errors import ConfigRefused, LabError
from ..poll import NotYet, poll
from . import StoreRows, UserStore, hidden, user_store
from .ldif import LdifError, dn_of, entries, render, text_of

SLAPD_D = "/etc/ldap/slapd.d"  # cn=config, as Debian keeps it
DATA = "/var/lib/ldap"  # the mdb database
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")  # Debian's default set, /etc/ldap/schema/*.ldif
LDAP_URI = "ldap://127.0.0.1"  # the mail services' way in (the admin's configuration, rewritten)
LDAPI = "ldapi:///"  # the lab's own, as root
LISTEN = f"{LDAP_URI}/ {LDAPI}"
ROOT_BY_SOCKET = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"  # root over ldapi (EXTERNAL)
STAGING = "/run/maillab-ldap"  # LDIF files on their way into slapd (root only)
PASSWORD_ATTRIBUTE = "userPassword"
TEMPLATES = ("domain", "user", "alias")  # in this order: an entry's parent is written before it
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
    head = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: /run/slapd/slapd.pid
olcArgsFile: /run/slapd/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
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
{text_of([("olcSuffix", suffix), ("olcRootDN", bind_dn(suffix)), ("olcRootPW", rootpw)]).strip()}
olcDbIndex: objectClass eq
olcAccess: {{0}}to attrs=userPassword by {root} manage by anonymous auth by * none
olcAccess: {{1}}to * by {root} manage by * read
"""
    return "\n".join([head, *schema, databases, *config])


# cn=config with the standard schemas put in where the line "# @SCHEMAS@" stands, by slapadd -n0;
# exit 65 when slapd refuses it (the admin's schema). $1 the staging folder (config.ldif), $2..
# the standard schemas' names.
CONFIGURE = r"""set -eu
staging=$1; shift
install -d -o openldap -g openldap -m 0750 @SLAPD_D@ /run/slapd
{ sed -n '1,/^# @SCHEMAS@$/p' "$staging/config.ldif"
  for name; do echo; cat "/etc/ldap/schema/$name.ldif"; echo; done
  sed '1,/^# @SCHEMAS@$/d' "$staging/config.ldif"; } > "$staging/slapd-config.ldif"
slapadd -n0 -F @SLAPD_D@ -l "$staging/slapd-config.ldif" 2>&1 || { rm -rf @SLAPD_D@; exit 65; }
chown -R openldap:openldap @SLAPD_D@
""".replace("@SLAPD_D@", SLAPD_D)
# The DIT's base into the empty database ($1 the file, $2 the suffix), exit 65 when slapd refuses it.
POPULATE = r"""set -eu
slapadd -F @SLAPD_D@ -b "$2" -l "$1" 2>&1 || { rm -rf @SLAPD_D@ @DATA@/*; exit 65; }
chown -R openldap:openldap @DATA@
""".replace("@SLAPD_D@", SLAPD_D).replace("@DATA@", DATA)
# slapd as a daemon once it is set up, unless it runs (a daemon: the exec that starts it returns
# at once, 0.17 s measured; it logs nowhere, a refusal to start is its exit code).
BOOT = r"""[ -e @SLAPD_D@/cn=config.ldif ] || exit 0
pgrep -x slapd >/dev/null && exit 0
install -d -o openldap -g openldap /run/slapd
exec /usr/sbin/slapd -h "@LISTEN@" -u openldap -g openldap -F @SLAPD_D@
""".replace("@SLAPD_D@", SLAPD_D).replace("@LISTEN@", LISTEN)


def searched(suffix: str, *options: str) -> Command:
    """ldapsearch of the whole suffix as root over ldapi, unwrapped LDIF."""
    return root_ldap("ldapsearch", "-LLL", "-o", "ldif_wrap=no", "-b", suffix, *options)


def wait_until_answering(host, suffix: str, timeout: float = ANSWER_TIMEOUT) -> None:
    def answers() -> None:
        result = host.run(searched(suffix, "-s", "base", "1.1"), timeout=TIMEOUT)
        if result.exit_code != 0:
            raise NotYet(f"ldapsearch: exit {result.exit_code}: {result.output[-200:]}")
    poll(f"slapd on '{host.role}' to answer for {suffix}", answers, timeout=timeout, interval=0.1)


def booted(host) -> None:
    """slapd started (BOOT), as at a boot of the host."""
    host.run_checked(Command.script(BOOT, display="starting slapd"), "starting slapd", timeout=TIMEOUT)


def staged(host, name: str, text: str) -> str:
    """`text` in a root-only file on the host (removed by `unstage`); its path."""
    host.run_checked(Command.of("install", "-d", "-m", "0700", STAGING), "making slapd's staging folder")
    host.put_file(f"{STAGING}/{name}", text.encode(), mode=0o600)
    return f"{STAGING}/{name}"


def unstage(host) -> None:
    host.run_checked(Command.of("rm", "-rf", STAGING), "removing slapd's staged LDIF")


def root_ldap(*argv: str) -> Command:
    """An ldap-utils command as root over ldapi (SASL EXTERNAL), quiet about SASL."""
    return Command.of(*argv[:1], "-Q", "-Y", "EXTERNAL", "-H", LDAPI, *argv[1:])


# slapadd wants slapd stopped: the database is replaced by the dump, as an admin moves one
# (slapcat on old; on new: stop slapd, slapadd, start it); then BOOT starts it again.
LOAD = r"""set -eu
pkill -x slapd || true
while pgrep -x slapd >/dev/null; do sleep 0.1; done
rm -rf @DATA@/*
slapadd -F @SLAPD_D@ -b "$2" -l "$1"
chown -R openldap:openldap @DATA@
""".replace("@SLAPD_D@", SLAPD_D).replace("@DATA@", DATA)


@user_store("ldap")
class LdapStore(UserStore):
    boot_script = BOOT

    def start(self, host, spec: UserStoreSpec, password: str) -> None:
        """slapd set up with the admin's schema and DIT base under the suffix, its rootdn's
        password the lab's, and started; answering when this returns."""
        suffix = spec.database
        if host.run(Command.of("test", "-e", f"{SLAPD_D}/cn=config.ldif")).exit_code != 0:
            try:
                with open(spec.schema_file, encoding="utf-8") as file:
                    schema, config, dit = split_schema(file.read())
            except (LdifError, UnicodeDecodeError) as error:
                raise ConfigRefused(f"hosts.{host.role}.user_store.schema: {spec.schema_file}: {error}") from None
            try:
                staged(host, "config.ldif", config_ldif(suffix, ssha(password), schema, config))
                self._refused(host, spec, host.run(Command.script(CONFIGURE, STAGING, *SCHEMAS,
                                                                  display="slapadd -n0 (cn=config)"), keep=None))
                dit_file = staged(host, "dit.ldif", "\n".join(dit))
                self._refused(host, spec, host.run(Command.script(POPULATE, dit_file, suffix,
                                                                  display=f"slapadd -b {suffix} (the DIT's base)"),
                                                   keep=None))
            finally:
                unstage(host)
        booted(host)
        wait_until_answering(host, suffix)

    @staticmethod
    def _refused(host, spec: UserStoreSpec, result) -> None:
        if result.exit_code == 65:
            raise ConfigRefused(f"hosts.{host.role}.user_store.schema: {spec.schema_file}: slapd refuses it: "
                                f"{result.output[-300:]}")
        if result.exit_code != 0:
            raise LabError(f"setting up slapd on '{host.role}' failed (exit {result.exit_code}): "
                           f"{result.output[-300:]}")

    def write_users(self, host, spec: UserStoreSpec, rows: dict[str, list[dict[str, str]]]) -> None:
        """Each row rendered by its template (domains, then users, then aliases), added with
        ldapadd as root over ldapi. A template that is not LDIF, or whose entries slapd refuses
        (the admin's schema wants other attributes), is bad input."""
        rendered = []
        for name in TEMPLATES:
            try:
                rendered += [render(getattr(spec.templates, name), row) for row in rows.get(name, [])]
            except LdifError as error:
                raise ConfigRefused(f"hosts.{host.role}.user_store.templates.{name}: {error}") from None
        text = "\n".join(rendered)
        if not text:
            return
        try:
            added = host.run(root_ldap("ldapadd", "-f", staged(host, "users.ldif", text)), timeout=TIMEOUT, keep=None)
        finally:
            unstage(host)
        if added.exit_code != 0:  # the entries the templates make do not fit the admin's schema
            said = " ".join(line.strip() for line in added.output.splitlines() if not line.startswith("adding new"))
            raise ConfigRefused(f"hosts.{host.role}.user_store.templates: slapd refuses the entries they make "
                                f"(ldapadd exit {added.exit_code}): {said[-300:]}")

    def dump(self, host, spec: UserStoreSpec) -> bytes:
        """Every entry of the suffix as slapcat writes it (operational attributes too)."""
        return host.run_checked(Command.of("slapcat", "-F", SLAPD_D, "-b", spec.database, "-o", "ldif_wrap=no"),
                                f"slapcat -b {spec.database}", timeout=TIMEOUT).stdout.encode()

    def load(self, host, spec: UserStoreSpec, data: bytes) -> None:
        """The suffix's database replaced by `data` (another host's dump), answering again."""
        try:
            dump = staged(host, "dump.ldif", data.decode())
            host.run_checked(Command.script(LOAD, dump, spec.database, display=f"slapadd -b {spec.database} of the dump"),
                             "loading the user store", timeout=TIMEOUT)
        finally:
            unstage(host)
        booted(host)
        wait_until_answering(host, spec.database)

    def rows(self, host, spec: UserStoreSpec) -> StoreRows:
        """Every entry under the suffix (user attributes) by DN, as `ldap`: each attribute's
        values sorted, one a line; userPassword as `hidden` shows a password column."""
        found = {}
        listed = host.run_checked(searched(spec.database), "reading the user store", timeout=TIMEOUT).stdout
        for entry in entries(listed):
            values: dict[str, list[str]] = {}
            for name, value in entry[1:]:
                name = PASSWORD_ATTRIBUTE if name.lower() == PASSWORD_ATTRIBUTE.lower() else name
                values.setdefault(name, []).append(value)
            found[dn_of(entry)] = hidden(host, {name: "\n".join(sorted(v)) for name, v in values.items()},
                                         PASSWORD_ATTRIBUTE)
        return {"ldap": found}
