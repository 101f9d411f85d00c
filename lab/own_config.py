"""The admin's own Dovecot and Postfix configuration on a lab host (docs/own-server.md).

The pure parts: the SQL connect strings made to reach the lab's MariaDB with the lab's
password, the paths the configuration names, what the lab adds to it (one file, in the host's
Dovecot syntax), and the servers' refusals read as file:line. `put_staged`, `problems` and
`in_throwaway` do the work on a lab container (a host, or validate's throw-away machine) through
its `run`. No Docker is imported here: the comparison imports ConfigProblem.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from dataclasses import dataclass, field, replace

from ..runner.schema.stores import UserStoreSpec
from .command import Command
from .stores.ldap import LDAP_URI, bind_dn

OWN = "/etc/maillab-own"  # the admin's files as the lab staged them (kept for a restart)
STORE_BOOT = f"{OWN}/store-boot"  # starts the admin's own user store at each boot (lab/stores)
LAB_FILE = "/etc/dovecot/maillab-lab.conf"  # what the lab adds, included at the end of dovecot.conf
POSTFIX_LAB = f"{OWN}/postfix-lab.cf"  # what the lab adds to main.cf: one `name=value` a line, for postconf -e
LIVE = "/etc/letsencrypt/live/mail"  # where the host keeps the lab's certificate in a live cutover
DOVEADM_PORT = 12345
LAB_DB = ("127.0.0.1", "mailserver")  # the lab's database service on the host and its account the mail services use
PROTOCOLS = ("imap", "pop3", "lmtp", "sieve")  # what the verifier and delivery speak to a host
MAX_ERRORS = 20  # doveconf stops at the first error: this many reruns find the others
# Dovecot 2.4 reads no setting of a file before this one (doc 2.4: installation/upgrade/2.3-to-2.4):
# a 2.3 configuration fails there, and whatever line is commented out the next fails the same way.
WHOLE_FILE_REFUSED = ("The first setting must be dovecot_config_version",)
# The admin's files from OWN over maillab's: Dovecot's whole configuration, Postfix's files by name
# (maillab's master.cf stays where the folder has none). The image's build checked maillab's
# Postfix configuration and left Postfix's quick-start mark (dockerfiles/mailhost/Dockerfile):
# the admin's is checked at Postfix's start as on their server, so the mark goes.
INSTALL = """rm -rf /etc/dovecot/conf.d /etc/dovecot/maillab.d /etc/dovecot/dovecot.conf
    cp -R {own}/dovecot/. /etc/dovecot/
    [ ! -d {own}/postfix ] || cp -R {own}/postfix/. /etc/postfix/
    rm -f /var/spool/postfix/quick-start""".format(own=OWN)
SUPERVISORD = "exec /usr/bin/supervisord -c /etc/supervisor/maillab.conf"
# After an upgrade in place that keeps the configuration: what dpkg and ucf left in /etc is
# what the host starts with from now on (START installs OWN at every boot); the include of the
# lab's file, which START appends, is taken out again.
KEEP_INSTALLED = """rm -rf {own}/dovecot {own}/postfix
    cp -a /etc/dovecot {own}/dovecot && cp -a /etc/postfix {own}/postfix
    sed -i '\\|^!include_try {lab}$|d' {own}/dovecot/dovecot.conf""".format(own=OWN, lab=LAB_FILE)
# A host with its own configuration starts with this instead of the image's entrypoint (no
# image changes): it waits for the admin's files, runs the entrypoint without its last line
# (supervisord), puts the admin's files in place, waits for the lab's look at them and its
# additions, puts the files in place again (the look commented refused lines out), starts the
# admin's own user store when it runs outside supervisord (PostgreSQL, slapd), and then starts
# the services. A restart (docker restart) goes through it again without waiting.
START = f"""set -eu
own={OWN}
entry=/usr/local/sbin/maillab-entrypoint
until [ -e $own/staged ]; do sleep 0.1; done
[ "$(tail -n 1 $entry)" = "{SUPERVISORD}" ] || {{ echo "maillab: $entry does not end in supervisord" >&2; exit 70; }}
head -n -1 $entry > /run/maillab-render
sh /run/maillab-render
install_own() {{
    {INSTALL}
}}
install_own
touch /run/maillab-installed
until [ -e $own/ready ]; do sleep 0.1; done
install_own
[ ! -e {STORE_BOOT} ] || sh {STORE_BOOT}
[ ! -d $own/lab ] || cp -R $own/lab/. /
[ ! -s {POSTFIX_LAB} ] || while IFS= read -r setting; do postconf -e "$setting"; done < {POSTFIX_LAB}
printf '\\n!include_try {LAB_FILE}\\n' >> /etc/dovecot/dovecot.conf
chgrp -R dovecot /etc/dovecot && chmod -R g+rX /etc/dovecot && find /etc/dovecot -name "*.ext" -exec chmod 0640 {{}} +
for map in /etc/postfix/*.cf; do case $map in */main.cf|*/master.cf) ;; *) chgrp postfix "$map"; chmod 0640 "$map";; esac; done
# written just now: Postfix would wait up to 2 s for them to cool down (as in the entrypoint)
find /etc/postfix -type f -exec touch -c -d '2 seconds ago' {{}} +
{SUPERVISORD}
"""


@dataclass(frozen=True)
class ConfigProblem:
    """One refusal of the admin's configuration, as the server said it."""

    server: str  # dovecot or postfix
    file: str  # its path in the configuration folder (dovecot/conf.d/10-mail.conf)
    line: int | None
    message: str

    def one_line(self, folder: str = "") -> str:
        """file:line: message (server), the file under `folder` when given."""
        where = f"{folder}/{self.file}" if folder else self.file
        return f"{where}{f':{self.line}' if self.line else ''}: {self.message} ({self.server})"


@dataclass
class Staged:
    """The admin's files as the lab puts them on a host, and what it changed in them."""

    files: dict[str, bytes]
    changed: list[str] = field(default_factory=list)  # one line each, for the report
    secrets: set[str] = field(default_factory=set)  # the admin's passwords found in them
    databases: list[tuple[str, str]] = field(default_factory=list)  # (file:line, dbname) of each connect string


# -- SQL connect strings ------------------------------------------------------------------
CONNECT = re.compile(r"^(\s*connect\s*=\s*)(.*)$")  # Dovecot 2.3's dovecot-sql.conf.ext
# Dovecot 2.4: mysql <host> { ... }, pgsql <host> { parameters { ... } }
SQL_SECTION = re.compile(r"^(\s*)(mysql|pgsql)\s+(\S+)(\s*\{\s*)$")
PORTS = {"mysql": "3306", "pgsql": "5432"}
SETTING = re.compile(r"^(\s*)([A-Za-z_]+)(\s*=\s*)(.*?)\s*$")


# The readiness probe's passwd-file: the entrypoint writes it with the lab's probe password. A
# configuration captured from a maillab host holds it too, its password a placeholder.
PROBE_FILE = "/etc/dovecot/maillab-probe.passwd"


def stage(files: dict[str, bytes], db_password: str, store: UserStoreSpec | None = None) -> Staged:
    """The folder's files with every SQL connect string (MySQL, PostgreSQL) made to reach the
    lab's database service on the host (host, port, account) with the lab's password, and, for
    an LDAP `store`, every LDAP server and bind DN the lab's slapd with the lab's password; the
    admin's passwords and database names are collected. The lab's own probe file is never taken
    from the folder."""
    probe = "dovecot/" + PROBE_FILE.removeprefix("/etc/dovecot/")
    staged = Staged(files={path: content for path, content in files.items() if path != probe})
    if probe in files:
        staged.changed.append(f"{probe}: the lab's own file (a capture of a maillab host?): the lab's is used")
    for path, content in list(staged.files.items()):
        text = content.decode("utf-8", errors="surrogateescape")
        if path.startswith("dovecot/"):
            lines = _dovecot_sql(path, text.split("\n"), db_password, staged)
            if store is not None and store.kind == "ldap":
                lines = _dovecot_ldap(path, lines, LdapLogin(store.database, db_password), staged)
        elif path.startswith("postfix/") and path not in ("postfix/main.cf", "postfix/master.cf"):
            lines = _postfix_sql(path, text.split("\n"), db_password, staged)
            if store is not None and store.kind == "ldap":
                lines = _postfix_ldap(path, lines, LdapLogin(store.database, db_password), staged)
        else:
            continue
        staged.files[path] = "\n".join(lines).encode("utf-8", errors="surrogateescape")
    return staged


def _dovecot_sql(path: str, lines: list[str], password: str, staged: Staged) -> list[str]:
    host, account = LAB_DB
    out, section, depth = [], "", 0  # the 2.4 section a line is in (mysql, pgsql), and how deep
    for number, line in enumerate(lines, 1):
        if match := CONNECT.match(line):
            words = match.group(2).strip().strip('"').split()
            values = dict(word.split("=", 1) for word in words if "=" in word)
            staged.secrets.update(v for k, v in values.items() if k == "password" and v)
            if values.get("dbname"):
                staged.databases.append((f"{path}:{number}", values["dbname"]))
            values.pop("port", None)
            values.update(host=host, user=account, password=password)
            line = match.group(1) + " ".join(f"{key}={value}" for key, value in values.items())
            staged.changed.append(f"{path}:{number}: connect: host={host} user={account} password=(the lab's)")
        elif match := SQL_SECTION.match(line):
            section, depth = match.group(2), 1
            line = f"{match.group(1)}{match.group(2)} {host}{match.group(4)}"
            staged.changed.append(f"{path}:{number}: {match.group(2)} {match.group(3)} -> {host}")
        elif section and line.strip().endswith("{"):
            depth += 1  # pgsql's parameters { }
        elif section and line.strip() == "}":
            depth -= 1
            section = section if depth else ""
        elif section and (match := SETTING.match(line)) and match.group(2) in ("host", "port", "user", "password"):
            line = _replaced(match, {"host": host, "port": PORTS[section], "user": account, "password": password},
                             staged)
            staged.changed.append(f"{path}:{number}: {match.group(2)} -> {_shown(match.group(2), line)}")
        elif section and (match := SETTING.match(line)) and match.group(2) == "dbname":
            staged.databases.append((f"{path}:{number}", match.group(4).strip('"')))
        out.append(line)
    return out


def _postfix_sql(path: str, lines: list[str], password: str, staged: Staged) -> list[str]:
    if not any(re.match(r"\s*dbname\s*=", line) for line in lines):
        return lines  # not a mysql: or pgsql: map (a hash map's source, an LDAP map)
    host, account = LAB_DB
    out = []
    for number, line in enumerate(lines, 1):
        if (match := SETTING.match(line)) and match.group(2) == "dbname":
            staged.databases.append((f"{path}:{number}", match.group(4).strip('"')))
        if (match := SETTING.match(line)) and match.group(2) in ("hosts", "user", "password", "port"):
            line = _replaced(match, {"hosts": host, "port": "3306", "user": account, "password": password}, staged)
            staged.changed.append(f"{path}:{number}: {match.group(2)} -> {_shown(match.group(2), line)}")
        out.append(line)
    return out


def database_mismatch(staged: Staged, database: str) -> str | None:
    """Where the configuration names another database than the user store's `database`, or None."""
    other = [f"{where} names dbname {name}" for where, name in staged.databases if name != database]
    return f"the store's database is {database}, but {other[0]}" if other else None


def _replaced(match: re.Match, values: dict[str, str], staged: Staged) -> str:
    key = match.group(2)
    if key == "password" and match.group(4):
        staged.secrets.add(match.group(4).strip('"'))
    return f"{match.group(1)}{key}{match.group(3)}{values[key]}"


def _shown(key: str, line: str) -> str:
    return "(the lab's)" if key == "password" else line.split("=", 1)[1].strip()


# -- LDAP servers and bind DNs ------------------------------------------------------------
LDAP_HOST = "127.0.0.1"
LDAP_SECRETS = ("dnpass", "ldap_auth_dn_password", "bind_pw")  # the admin's LDAP passwords, by setting


@dataclass(frozen=True)
class LdapLogin:
    """The lab's slapd on the host (lab/stores/ldap.py): its suffix, and the password of the
    DN the mail services bind as. Each form of configuration gets the server on the host, the
    lab's bind DN and password, and no TLS (the lab's slapd has none)."""

    suffix: str
    password: str

    def dovecot_23(self) -> dict[str, str]:  # dovecot-ldap.conf.ext
        return {"hosts": LDAP_HOST, "uris": LDAP_URI, "dn": bind_dn(self.suffix), "dnpass": self.password, "tls": "no"}

    def dovecot_24(self) -> dict[str, str]:  # the ldap_* settings, anywhere in 2.4's configuration
        return {"ldap_uris": LDAP_URI, "ldap_auth_dn": bind_dn(self.suffix), "ldap_auth_dn_password": self.password,
                "ldap_starttls": "no"}

    def postfix(self) -> dict[str, str]:  # an ldap: map (ldap_table(5))
        return {"server_host": LDAP_URI, "server_port": "389", "bind_dn": bind_dn(self.suffix), "bind_pw": self.password,
                "start_tls": "no"}


def _dovecot_ldap(path: str, lines: list[str], login: LdapLogin, staged: Staged) -> list[str]:
    """2.3: a file with `base` and `hosts` or `uris` (dovecot-ldap.conf.ext); 2.4: its ldap_*
    settings, wherever they are."""
    names = {match.group(2) for line in lines if (match := SETTING.match(line))}
    if "base" in names and {"hosts", "uris"} & names:
        return _ldap_settings(path, lines, login.dovecot_23(), login.suffix, "base", staged)
    return _ldap_settings(path, lines, login.dovecot_24(), login.suffix, "ldap_base", staged)


def _postfix_ldap(path: str, lines: list[str], login: LdapLogin, staged: Staged) -> list[str]:
    """An ldap: map file: one with `search_base` (a mysql: or pgsql: map has none)."""
    if not any((match := SETTING.match(line)) and match.group(2) == "search_base" for line in lines):
        return lines
    return _ldap_settings(path, lines, login.postfix(), login.suffix, "search_base", staged)


def _ldap_settings(path: str, lines: list[str], settings: dict[str, str], suffix: str, base: str,
                   staged: Staged) -> list[str]:
    """`lines` with each of `settings` there set to the lab's value; the admin's LDAP passwords
    are collected, and a search base outside the lab's suffix is said (slapd holds nothing there)."""
    out = []
    for number, line in enumerate(lines, 1):
        match = SETTING.match(line)
        if match and match.group(2) in settings:
            key, value = match.group(2), match.group(4).strip().strip('"')
            if key in LDAP_SECRETS and value:
                staged.secrets.add(value)
            line = f"{match.group(1)}{key}{match.group(3)}{settings[key]}"
            shown = "(the lab's)" if key in LDAP_SECRETS else settings[key]
            staged.changed.append(f"{path}:{number}: {key} -> {shown}")
        elif match and match.group(2) == base and not _under(match.group(4).strip().strip('"'), suffix):
            staged.changed.append(f"{path}:{number}: {base} {match.group(4).strip()} is not under the store's "
                                  f"suffix {suffix}: the lab's slapd holds nothing there")
        out.append(line)
    return out


def _under(dn: str, suffix: str) -> bool:
    """Whether `dn` is `suffix` or below it (RDNs compared without case and spaces around them)."""
    def parts(text: str) -> list[str]:
        return [part.strip().lower().replace(" = ", "=") for part in re.split(r"(?<!\\),", text)]
    whole, tail = parts(dn), parts(suffix)
    return whole[len(whole) - len(tail):] == tail


# -- paths the configuration names ----------------------------------------------------------
# setting -> what the lab makes when the path is not there (in a live cutover a certificate and
# its key are always the lab's: clients check the names they use against the lab's CA)
PATH_SETTINGS = {
    # Dovecot 2.3 (a '<' before the path reads the file) and 2.4
    "ssl_cert": "cert", "ssl_key": "key", "ssl_ca": "ca", "ssl_dh": "dh",
    "ssl_server_cert_file": "cert", "ssl_server_key_file": "key", "ssl_server_ca_file": "ca",
    "ssl_server_dh_file": "dh",
    "log_path": "log", "info_log_path": "log", "debug_log_path": "log",
    "sieve_before": "sieve", "sieve_before2": "sieve", "sieve_after": "sieve", "sieve_global": "sieve",
    # Postfix main.cf
    "smtpd_tls_cert_file": "cert", "smtpd_tls_key_file": "key", "smtp_tls_CAfile": "ca",
    "smtpd_tls_CAfile": "ca",
}
UNMADE = ("/dev/", "/proc/", "/sys/", "/run/", "/var/run/")  # the system's own: never made


@dataclass(frozen=True)
class NamedPath:
    kind: str  # cert, key, dh, log, sieve
    path: str
    where: str  # file:line in the configuration folder


def named_paths(files: dict[str, bytes]) -> list[NamedPath]:
    """The absolute paths the configuration names that the lab can make (PATH_SETTINGS)."""
    found = []
    for name, content in files.items():
        if not name.endswith((".conf", ".ext", "main.cf")):
            continue
        for number, line in enumerate(content.decode("utf-8", errors="replace").split("\n"), 1):
            match = SETTING.match(line)
            if not match or match.group(2) not in PATH_SETTINGS:
                continue
            value = match.group(4).strip().strip('"').removeprefix("<").strip()
            value = value.removeprefix("file:").split(";")[0]
            if value.startswith("/") and not value.startswith(UNMADE):
                found.append(NamedPath(PATH_SETTINGS[match.group(2)], value, f"{name}:{number}"))
    return found


MAKE_PATHS = r"""
live=@LIVE@  # the lab's certificate for the names clients use, in a live cutover
for entry; do
    kind=${entry%%:*}; path=${entry#*:}
    case $kind in cert) lab=$live/fullchain.pem ;; key) lab=$live/privkey.pem ;; *) lab= ;; esac
    # a link: the certificates a migration copies into /etc/letsencrypt (seed 003) are what is served
    if [ -n "$lab" ] && [ -s "$lab" ] && [ "$path" != "$lab" ]; then  # the admin's certificate is not the lab's
        mkdir -p "$(dirname "$path")"; ln -sfn "$lab" "$path"; echo "$path"; continue
    fi
    [ -e "$path" ] && continue
    mkdir -p "$(dirname "$path")"
    case $kind in
        cert|key|ca) [ -s /run/maillab-self.key ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
                         -subj "/CN=$(hostname)" -keyout /run/maillab-self.key -out /run/maillab-self.pem 2>/dev/null
                     if [ "$kind" = key ]; then cp /run/maillab-self.key "$path"; chmod 0600 "$path"
                     else cp /run/maillab-self.pem "$path"; fi ;;
        dh) openssl dhparam -dsaparam -out "$path" 2048 2>/dev/null ;;
        log) touch "$path" ;;
        sieve) case $path in *.sieve) : > "$path" ;; *) mkdir -p "$path" ;; esac ;;
    esac
    echo "$path"
done
""".replace("@LIVE@", LIVE)


# -- what the lab adds ----------------------------------------------------------------------
def block_of(doveconf: str, header: str) -> str:
    """The text of the first top-level `header {` block in `doveconf -n` output."""
    match = re.search(rf"^{re.escape(header)}\s*\{{\n(.*?)^\}}", doveconf, re.M | re.S)
    return match.group(1) if match else ""


def setting_of(doveconf: str, name: str) -> str | None:
    """A top-level setting's value in `doveconf -n` output (None: Dovecot's default)."""
    match = re.search(rf"^{re.escape(name)} = (.*)$", doveconf, re.M)
    return match.group(1).strip() if match else None


def lab_additions(doveconf: str, series: str, doveadm_password: str, probe_file: str,
                  tls: bool) -> tuple[str, list[str]]:
    """The file the lab adds to the admin's Dovecot configuration (`doveconf -n` of it, in
    `series` syntax), and one line per addition for the report."""
    lines, added = ["# Added by maillab to the admin's configuration (docs/own-server.md): only what the lab",
                     "# needs and the configuration lacks."], []

    def add(why: str, text: str) -> None:
        lines.extend(["", f"# {why}", *text.strip("\n").split("\n")])
        added.append(why)

    add("doveadm_password: the lab's, for the tcp methods (doveadm sync over tcp:HOST:12345)",
        f"doveadm_password = {doveadm_password}")
    if not re.search(rf"^\s*port = {DOVEADM_PORT}$", block_of(doveconf, "service doveadm"), re.M):
        name = " maillab" if series == "2.4" else ""
        add(f"the doveadm listener on port {DOVEADM_PORT} (the tcp methods)",
            f"service doveadm {{\n  inet_listener{name} {{\n    port = {DOVEADM_PORT}\n  }}\n}}")
    have = (setting_of(doveconf, "protocols") or "imap pop3 lmtp").split()
    if missing := [p for p in PROTOCOLS if p not in have]:
        add(f"protocols {' '.join(missing)}: the verifier reads IMAP, POP3 and ManageSieve, Postfix delivers by LMTP",
            f"protocols = {' '.join([*have, *missing])}")
    if series == "2.3" and setting_of(doveconf, "disable_plaintext_auth") != "no":
        add("disable_plaintext_auth = no: the verifier logs in without TLS on the lab network",
            "disable_plaintext_auth = no")
    if series == "2.4" and setting_of(doveconf, "auth_allow_cleartext") != "yes":
        add("auth_allow_cleartext = yes: the verifier logs in without TLS on the lab network",
            "auth_allow_cleartext = yes")
    if setting_of(doveconf, "ssl") == "required":
        add("ssl = yes (not required): the verifier logs in without TLS on the lab network", "ssl = yes")
    cert = "ssl_server_cert_file" if series == "2.4" else "ssl_cert"
    if tls and (setting_of(doveconf, "ssl") == "no" or not setting_of(doveconf, cert)):
        files = f"ssl_cert = <{LIVE}/fullchain.pem\nssl_key = <{LIVE}/privkey.pem"
        if series == "2.4":
            files = f"ssl_server_cert_file = {LIVE}/fullchain.pem\nssl_server_key_file = {LIVE}/privkey.pem"
        add("TLS with the lab's certificate for the names clients use (a live cutover)", f"ssl = yes\n{files}")
    if series == "2.4":
        probe = (f"passdb maillab-probe {{\n  driver = passwd-file\n  passwd_file_path = {probe_file}\n"
                 "  default_password_scheme = PLAIN\n}\nuserdb maillab-probe {\n  driver = static\n  fields {\n"
                 "    uid = vmail\n    gid = vmail\n    home = /var/lib/maillab-probe/%{user}\n  }\n}")
    else:
        probe = (f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {probe_file}\n}}\n"
                 "userdb {\n  driver = static\n  args = uid=vmail gid=vmail home=/var/lib/maillab-probe/%u "
                 "allow_all_users=no\n}")
    add("the readiness probe's lab-only user maillab-probe (its own passdb and userdb, after the admin's)", probe)
    return "\n".join(lines) + "\n", added


def postfix_additions(cert_file: str, tls: bool) -> tuple[str, list[str]]:
    """What the lab adds to the admin's main.cf (its smtpd_tls_cert_file is `cert_file`), as
    postconf -e takes it, and one line per addition for the report."""
    if not tls or cert_file:
        return "", []
    lines = [f"smtpd_tls_cert_file={LIVE}/fullchain.pem", f"smtpd_tls_key_file={LIVE}/privkey.pem",
             "smtpd_tls_security_level=may"]
    return "\n".join(lines) + "\n", ["Postfix: STARTTLS with the lab's certificate (a live cutover): "
                                      + ", ".join(lines)]


# -- the servers' refusals ------------------------------------------------------------------
DOVECOT_ERROR = re.compile(r"Error in configuration file (?P<file>/\S+) line (?P<line>\d+): (?P<message>.*)")
# main.cf and maps: "fatal: /etc/postfix/main.cf, line 15: ..."; master.cf: "fatal: file
# /etc/postfix/master.cf: line 140: ..." (Postfix 3.5, 3.7, 3.10, measured)
POSTFIX_ERROR = re.compile(r"fatal: (?:file )?(?P<file>/etc/postfix/[^\s,:]+)[,:] line (?P<line>\d+): (?P<message>.*)")
OTHER_FATAL = re.compile(r"(?:doveconf|postconf|postfix): [Ff]atal: (?P<message>.*)")
# a value postfix(1) refuses names the setting, not its line: "bad numerical configuration:
# message_size_limit = 50M"
POSTFIX_BAD_VALUE = re.compile(r"^bad \w+ configuration: (?P<name>\w+) = ")
# postfix(1) says why it refuses main.cf only to a terminal, else to syslog, which a host lacks
# (without one `postfix check` exits 1 and prints nothing): it runs under script(1)'s terminal.
POSTFIX_CHECK = Command.of("script", "-qec", "postfix check", "/dev/null")


def parse_problems(server: str, output: str) -> list[ConfigProblem]:
    """The refusals in doveconf's or postconf's output, each once, by file and line in the
    configuration folder; a fatal error without a line is kept with the file unknown."""
    pattern = DOVECOT_ERROR if server == "dovecot" else POSTFIX_ERROR
    found: list[ConfigProblem] = []
    for line in output.splitlines():
        if match := pattern.search(line):
            file = re.sub(r"^/etc/(dovecot|postfix)/", r"\1/", match.group("file"))
            problem = ConfigProblem(server, file, int(match.group("line")), match.group("message").strip())
        elif match := OTHER_FATAL.search(line):
            problem = ConfigProblem(server, f"{server}/", None, match.group("message").strip())
        else:
            continue
        if problem not in found:
            found.append(problem)
    return found


def located(problem: ConfigProblem, main_cf: str) -> ConfigProblem:
    """A value of main.cf that Postfix refuses, at the line that sets it (the last: it wins)."""
    match = POSTFIX_BAD_VALUE.match(problem.message)
    if problem.server != "postfix" or problem.line or not match:
        return problem
    lines = [number for number, line in enumerate(main_cf.split("\n"), 1) if re.match(rf"{match['name']}\s*=", line)]
    return replace(problem, file="postfix/main.cf", line=lines[-1]) if lines else problem


# -- in a container -----------------------------------------------------------------------
def put_staged(container, staged: Staged) -> None:
    """The admin's files (as staged) into OWN, then the mark that the host waits for."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in staged.files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), 0o644, time.time()
            tar.addfile(info, io.BytesIO(content))
        mark = tarfile.TarInfo("staged")  # last: the host sees the files complete
        mark.mtime = time.time()
        tar.addfile(mark, io.BytesIO(b""))
    container.run_checked(Command.of("mkdir", "-p", OWN), "making the folder of the admin's configuration")
    if not container.get_wrapped_container().put_archive(OWN, buffer.getvalue()):
        raise OSError(f"copying the admin's configuration into '{container.role}' failed")


def problems(container, staged: Staged, timeout: float = 60) -> list[ConfigProblem]:
    """What Dovecot and Postfix refuse in the configuration now in /etc (`staged`'s): every
    error, not only the first. doveconf stops at the first, so each error's line is commented
    out in turn and doveconf runs again (at most MAX_ERRORS times). The edits stay: a host puts
    the admin's files in place again before its services start (START), a throw-away machine
    is removed."""
    found: list[ConfigProblem] = []
    for _ in range(MAX_ERRORS):
        result = container.run(Command.of("doveconf", "-n"), timeout=timeout, keep=None)
        if result.exit_code == 0:
            break
        new = [p for p in parse_problems("dovecot", result.stderr or result.output) if p not in found]
        found += new
        fixable = [p for p in new if p.line and p.file.startswith("dovecot/")
                   and not p.message.startswith(WHOLE_FILE_REFUSED)]
        if not fixable:
            break
        container.run_checked(Command.of("sed", "-i", f"{fixable[0].line}s/^/#/", "/etc/" + fixable[0].file),
                              "reading past a refused line")
    postfix = container.run(POSTFIX_CHECK, timeout=timeout, keep=None)
    if postfix.exit_code != 0:
        main_cf = staged.files.get("postfix/main.cf", b"").decode("utf-8", errors="replace")
        found += [located(problem, main_cf) for problem in parse_problems("postfix", postfix.output)] or [
            ConfigProblem("postfix", "postfix/", None, postfix.output[-300:])]
    return found


def in_throwaway(container, staged: Staged) -> list[ConfigProblem]:
    """What the suite's Dovecot and Postfix refuse in the staged files, on a started machine
    of the host's image without services (maillab validate)."""
    put_staged(container, staged)
    container.run_checked(Command.script(INSTALL, display="installing the admin's configuration"),
                          "installing the admin's configuration")
    if paths := [f"{named.kind}:{named.path}" for named in named_paths(staged.files)]:
        container.run_checked(Command.script(MAKE_PATHS, *paths, display="making the paths the configuration names"),
                              "making the paths the configuration names")
    return problems(container, staged)
