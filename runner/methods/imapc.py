"""imapc (the Imapc step): the new server pulls each user over IMAP from the old one (the
Dovecot migration doc, seeds 002/004): `doveadm -o imapc_password=... backup -R -u USER imapc:`,
with the password in a configuration file instead (`doveadm -c`): a command line is shown
by `ps` to anyone on the engine's machine.

Authentication on the old server, as the doc lists it:
- user_password: each user's own password;
- master_password: one password that logs in as any user (a static passdb on old);
- master_user: a master user `migrator` logging in on behalf of each user (SASL authzid).
The step sets up old's side of that, writes the imapc (and, with `pop3_migration`, the pop3c
and pop3_migration) settings on new, runs the doc's check (`mailbox list` through imapc:) and
then the backup. A Courier-style old server (`INBOX.` prefix) gets `imapc_list_prefix = INBOX`.

Known losses (Dovecot's docs): Sieve scripts do not travel over IMAP, and message GUIDs are
not kept (imapc has none from a Dovecot source).

From Gmail (`gmail_migration`, seed 002): `imapc_features = gmail-migration`, a virtual mailbox
`virtual/All` of all mail given to the backup as `-a` (each message is read once and hard-linked
into its labels' folders) and `-O '-$GmailHaveLabels'`, unless told otherwise, and new's POP3 told
to hide what Gmail's POP3 had deleted (`pop3_deleted_flag`: kept after the step, as the server's).
"""

from __future__ import annotations

from ...lab.command import Command
from ...lab.errors import WaitTimeout
from ...lab.poll import NotYet, poll
from ..schema.steps import GMAIL_ALL_VIRTUAL, Imapc
from ..schema.vocabulary import GMAIL_POP3_DELETED
from . import executes
from .context import DOVEADM_EXIT_MEANINGS, MigrationContext, StepResult

MASTER_USER = "migrator"
MASTER_USERS_FILE = "/etc/dovecot/master-users"
SOURCE_CONF = "/etc/dovecot/maillab.d/50-imapc-source.conf"
CLIENT_CONF = "/etc/dovecot/maillab.d/60-imapc-client.conf"
POP3_MIGRATION_NS = "POP3-MIGRATION-NS/"
MAIN_CONF = "/etc/dovecot/dovecot.conf"
PASSWORD_CONF = "/root/maillab-imapc.conf"  # Dovecot's configuration plus one user's password (0600)
# Gmail's road: the virtual mailbox of all mail (the seed's definition: every mailbox, all
# messages), and new's POP3 from then on (quoted: a bare $ starts a variable in 2.3's parser)
GMAIL_VIRTUAL_DIR = "/etc/dovecot/maillab-gmail-virtual"
GMAIL_VIRTUAL_NS, _, GMAIL_VIRTUAL_MAILBOX = GMAIL_ALL_VIRTUAL.partition("/")
GMAIL_POP3_CONF = "/etc/dovecot/maillab.d/61-gmail-pop3.conf"

SOURCE_AUTH = {
    ("2.3", "master_user"): f"""auth_master_user_separator = *
passdb {{
  driver = passwd-file
  master = yes
  pass = yes
  args = scheme=SHA512-CRYPT {MASTER_USERS_FILE}
}}
""",
    ("2.4", "master_user"): f"""auth_master_user_separator = *
passdb master {{
  driver = passwd-file
  master = yes
  result_success = continue
  passwd_file_path = {MASTER_USERS_FILE}
  default_password_scheme = SHA512-CRYPT
}}
""",
    ("2.3", "master_password"): """passdb {
  driver = static
  args = password=@SECRET@
}
""",
    ("2.4", "master_password"): """passdb master-password {
  driver = static
  password = @SECRET@
}
""",
}


@executes(Imapc)
def run(step: Imapc, context: MigrationContext) -> list[StepResult]:
    old, new = context.lab["old"], context.lab["new"]
    users = list(context.passwords) if step.users == "all" else step.users
    results = []
    if step.auth != "user_password":
        results.append(set_up_source(step, context))
        if not results[-1].ok:
            return results
    if step.gmail_migration:
        folder = f"{GMAIL_VIRTUAL_DIR}/{GMAIL_VIRTUAL_MAILBOX}"
        new.run_checked(Command.of("install", "-d", folder), f"making {folder}")
        new.put_file(f"{folder}/dovecot-virtual", b"*\n  all\n", mode=0o644)
        new.put_file(GMAIL_POP3_CONF, f'pop3_deleted_flag = "{GMAIL_POP3_DELETED}"\n'.encode(), mode=0o640)
        new.run_checked(Command.of("chgrp", "dovecot", GMAIL_POP3_CONF), f"making {GMAIL_POP3_CONF} readable to Dovecot")
    new.put_file(CLIENT_CONF, _client_settings(step, old, new).encode(), mode=0o640)
    _reload(new, CLIENT_CONF)
    try:
        return results + _pull(step, context, users)
    finally:
        # The settings serve this migration only: a pop3c namespace left in place makes
        # every IMAP login and LMTP delivery on new fail ("missing pop3c_password").
        new.run_checked(Command.of("rm", "-f", CLIENT_CONF), "removing the imapc settings")
        if step.gmail_migration:
            new.run_checked(Command.of("rm", "-r", GMAIL_VIRTUAL_DIR), "removing the virtual All Mail")
        new.run_checked(Command.of("doveadm", "reload"), "reloading Dovecot")


def _reload(host, conf: str) -> None:
    host.run_checked(Command.of("chgrp", "dovecot", conf), f"making {conf} readable to Dovecot")
    host.run_checked(Command.of("doveadm", "reload"), "reloading Dovecot")


def _pull(step: Imapc, context: MigrationContext, users: list[str]) -> list[StepResult]:
    new = context.lab["new"]
    results = []
    try:
        for user in users:
            password = context.passwords[user] if step.auth == "user_password" else context.secret(step.auth)
            new.put_file(PASSWORD_CONF, _password_settings(new, password, step.pop3_migration).encode(), mode=0o600)
            options = ["-c", PASSWORD_CONF]
            location = ["-o", "mail_location=imapc:"] if new.dovecot_series == "2.3" \
                else ["-o", "mail_driver=imapc", "-o", "mail_path="]
            check = Command.of("doveadm", *options, *location, "mailbox", "list", "-u", user, secrets=[password])
            results.append(context.run(new, check, DOVEADM_EXIT_MEANINGS,
                                       label=f"imapc check: mailbox list -u {user} (on new)"))
            if not results[-1].ok:
                return results
            # a folder by the name the source's clients see it ('INBOX.Archive' on Courier)
            excludes = [option for mask in step.exclude for option in
                        ("-x", mask if mask.startswith("\\") else context.lab["old"].spec.imap_name(mask))]
            chosen = [*step.gmail_options, *excludes]
            backup = Command.of("doveadm", *options, "backup", *chosen, "-R", "-u", user, "imapc:", secrets=[password])
            results.append(context.run(new, backup, DOVEADM_EXIT_MEANINGS,
                                       label=f"doveadm backup {' '.join([*chosen, '-R'])} -u {user} imapc: (on new)"))
            if not results[-1].ok:
                return results
        return results
    finally:
        new.run_checked(Command.of("rm", "-f", PASSWORD_CONF), "removing the imapc password")


def _password_settings(new, password: str, pop3: bool) -> str:
    """What `doveadm -c` reads: Dovecot's own configuration, then the password (2.4 wants its
    dovecot_config_version first in any file it reads)."""
    first = new.read_file(MAIN_CONF).decode().splitlines()[:1] if new.dovecot_series == "2.4" else []
    names = ("imapc_password", "pop3c_password") if pop3 else ("imapc_password",)
    settings = [f"{name} = {dovecot_quoted(password)}" for name in names]
    return "\n".join([*first, f"!include {MAIN_CONF}", *settings]) + "\n"


def dovecot_quoted(value: str) -> str:
    """A value as a Dovecot configuration file reads it back unchanged."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_up_source(step: Imapc, context: MigrationContext) -> StepResult:
    """Old's side of master authentication, then a wait until its auth service takes it."""
    old = context.lab["old"]
    secret = context.secret(step.auth)
    settings = SOURCE_AUTH[(old.dovecot_series, step.auth)].replace("@SECRET@", secret)
    if step.auth == "master_user":
        [hashed] = old.password_hashes([secret])
        old.put_file(MASTER_USERS_FILE, f"{MASTER_USER}:{hashed}\n".encode(), mode=0o640)
        old.run_checked(Command.of("chgrp", "dovecot", MASTER_USERS_FILE), "making the master users readable")
    old.put_file(SOURCE_CONF, settings.encode(), mode=0o640)
    _reload(old, SOURCE_CONF)
    first = next(iter(context.passwords))
    login = f"{first}*{MASTER_USER}" if step.auth == "master_user" else first
    # `--`: a login may begin with '-'; the password comes on stdin (doveadm asks for it when
    # not given), from the environment through the shell's own printf: no command line holds it
    command = Command.script('printf "%s\\n" "$MAILLAB_SECRET" | doveadm auth test -x service=imap -- "$1"', login,
                             secrets=[secret], display=f"doveadm auth test -x service=imap -- {login}")
    label = f"old accepts the {step.auth.replace('_', ' ')} (doveadm auth test {login})"
    tries: list[StepResult] = []

    def accepted() -> StepResult:  # the reload restarts the auth service in the background
        tries.append(context.run(old, command, {0: "success", 77: "authentication failed"}, label=label,
                                 env={"MAILLAB_SECRET": secret}))
        if tries[-1].exit_code == 77:
            raise NotYet(tries[-1].meaning)
        return tries[-1]
    try:
        return poll(label, accepted, timeout=10, interval=0.3)
    except WaitTimeout:
        return tries[-1]


def _client_settings(step: Imapc, old, new) -> str:
    series_23 = new.dovecot_series == "2.3"
    lines = ["# imapc: this server reads the old one over IMAP", "imapc_host = old", "imapc_port = 143"]
    if series_23:
        features = "rfc822.size fetch-headers" + (" gmail-migration" if step.gmail_migration else "")
        lines += ["imapc_user = %u", f"imapc_features = {features}"]
    if step.auth == "master_user":
        lines.append(f"imapc_master_user = {MASTER_USER}")
    if old.spec.shown_namespace == "courier":
        lines.append("imapc_list_prefix = INBOX")
    if step.pop3_migration:
        lines += ["pop3c_host = old", "pop3c_port = 110"]
        if series_23:
            lines.append("pop3c_user = %u")
        if step.auth == "master_user":
            lines.append(f"pop3c_master_user = {MASTER_USER}")
        location = "  location = pop3c:" if series_23 else "  mail_driver = pop3c\n  mail_path ="
        plugins = "  mail_plugins = $mail_plugins pop3_migration" if series_23 \
            else "  mail_plugins {\n    pop3_migration = yes\n  }"
        lines += [
            "namespace pop3c {", f"  prefix = {POP3_MIGRATION_NS}", "  separator = /", location,
            "  inbox = no", "  list = no", "  hidden = yes", "}",
            "protocol doveadm {", plugins, "}",
        ]
        lines += ["plugin {", f"  pop3_migration_mailbox = {POP3_MIGRATION_NS}INBOX", "}"] if series_23 \
            else [f"pop3_migration_mailbox = {POP3_MIGRATION_NS}INBOX"]
    if step.gmail_migration:  # seed 002's virtual All Mail, for doveadm only (2.3's syntax: Imapc.problem_with)
        lines += [
            "protocol doveadm {", "  mail_plugins = $mail_plugins virtual", "}",
            "namespace virtual {", f"  prefix = {GMAIL_VIRTUAL_NS}/", "  separator = /",
            f"  location = virtual:{GMAIL_VIRTUAL_DIR}:INDEX=~/virtual", "}",
        ]
    return "\n".join(lines) + "\n"
