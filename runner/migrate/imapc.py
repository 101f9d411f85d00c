"""imapc: the new server pulls each user over IMAP from the old one (the Dovecot migration doc,
seeds 002/004): `doveadm -o imapc_password=... backup -R -u USER imapc:`.

Authentication on the old server, as the doc lists it:
- user_password: each user's own password;
- master_password: one password that logs in as any user (a static passdb on old);
- master_user: a master user `migrator` logging in on behalf of each user (SASL authzid).
The step sets up old's side of that, writes the imapc (and, with `pop3_migration`, the pop3c
and pop3_migration) settings on new, runs the doc's check (`mailbox list` through imapc:) and
then the backup. A Courier-style old server (`INBOX.` prefix) gets `imapc_list_prefix = INBOX`.

Known losses (Dovecot's docs): Sieve scripts do not travel over IMAP, and message GUIDs are
not kept (imapc has none from a Dovecot source).
"""

from __future__ import annotations

import shlex
import time
from typing import Literal

from lab.host import MailHostContainer
from runner.migrate.base import MigrationContext, MigrationStep, StepResult, run_command
from runner.migrate.doveadm_backup import EXIT_MEANINGS

MASTER_USER = "migrator"
MASTER_USERS_FILE = "/etc/dovecot/master-users"
SOURCE_CONF = "/etc/dovecot/maillab.d/50-imapc-source.conf"
CLIENT_CONF = "/etc/dovecot/maillab.d/60-imapc-client.conf"
POP3_MIGRATION_NS = "POP3-MIGRATION-NS/"

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


class Imapc(MigrationStep):
    method: Literal["imapc"]
    auth: Literal["user_password", "master_password", "master_user"] = "user_password"
    pop3_migration: bool = False  # keep POP3 UIDLs with pop3c + the pop3_migration plugin
    users: Literal["all"] | list[str] = "all"

    def describe(self) -> str:
        pop3 = " + pop3_migration" if self.pop3_migration else ""
        return f"doveadm backup -R imapc:{pop3} (on new, {self.auth.replace('_', ' ')})"

    def problem_with(self, scenario) -> str | None:
        known = {user.address for user in scenario.users}
        if isinstance(self.users, list) and (unknown := [u for u in self.users if u not in known]):
            return f"users not in the scenario: {', '.join(unknown)}"
        if scenario.hosts["new"].namespace != "dovecot":
            return "imapc pulls into a server with Dovecot's default namespace (hosts.new.namespace: dovecot)"
        return None

    def run(self, context: MigrationContext) -> list[StepResult]:
        old, new = context.lab["old"], context.lab["new"]
        users = list(context.passwords) if self.users == "all" else self.users
        results = []
        if self.auth != "user_password":
            results.append(self._set_up_source(old, context))
            if not results[-1].ok:
                return results
        new.put_file(CLIENT_CONF, self._client_settings(old, new).encode(), mode=0o640)
        new.run_checked(f"chgrp dovecot {CLIENT_CONF} && doveadm reload", "reloading Dovecot")
        try:
            return results + self._pull(context, users)
        finally:
            # The settings serve this migration only: a pop3c namespace left in place makes
            # every IMAP login and LMTP delivery on new fail ("missing pop3c_password").
            new.run_checked(f"rm -f {CLIENT_CONF} && doveadm reload", "removing the imapc settings")

    def _pull(self, context: MigrationContext, users: list[str]) -> list[StepResult]:
        new = context.lab["new"]
        results = []
        for user in users:
            password = context.passwords[user] if self.auth == "user_password" else context.secret(self.auth)
            options = ["-o", f"imapc_password={password}"]
            if self.pop3_migration:
                options += ["-o", f"pop3c_password={password}"]
            location = ["-o", "mail_location=imapc:"] if new.dovecot_series == "2.3" \
                else ["-o", "mail_driver=imapc", "-o", "mail_path="]
            check = shlex.join(["doveadm", *options, *location, "mailbox", "list", "-u", user])
            context.say(f"check: doveadm mailbox list -u {user} through imapc:")
            results.append(run_command(new, f"imapc check: mailbox list -u {user} (on new)", check,
                                       EXIT_MEANINGS, secrets=(password,)))
            if not results[-1].ok:
                return results
            backup = shlex.join(["doveadm", *options, "backup", "-R", "-u", user, "imapc:"])
            context.say(f"doveadm backup -R -u {user} imapc: (on new)")
            results.append(run_command(new, f"doveadm backup -R -u {user} imapc: (on new)", backup,
                                       EXIT_MEANINGS, secrets=(password,)))
            if not results[-1].ok:
                return results
        return results

    def _set_up_source(self, old: MailHostContainer, context: MigrationContext) -> StepResult:
        """Old's side of master authentication, then a wait until its auth service takes it."""
        secret = context.secret(self.auth)
        settings = SOURCE_AUTH[(old.dovecot_series, self.auth)].replace("@SECRET@", secret)
        if self.auth == "master_user":
            [hashed] = old.password_hashes([secret])
            old.put_file(MASTER_USERS_FILE, f"{MASTER_USER}:{hashed}\n".encode(), mode=0o640)
            old.run_checked(f"chgrp dovecot {MASTER_USERS_FILE}", "master users file")
        old.put_file(SOURCE_CONF, settings.encode(), mode=0o640)
        old.run_checked(f"chgrp dovecot {SOURCE_CONF} && doveadm reload", "reloading Dovecot")
        first = next(iter(context.passwords))
        login = f"{first}*{MASTER_USER}" if self.auth == "master_user" else first
        # `--`: a generated password may begin with '-'
        command = shlex.join(["doveadm", "auth", "test", "-x", "service=imap", "--", login, secret])
        label = f"old accepts the {self.auth.replace('_', ' ')} (doveadm auth test {login})"
        deadline = time.monotonic() + 10
        while True:  # the reload restarts the auth service in the background
            result = run_command(old, label, command, {0: "success", 77: "authentication failed"}, secrets=(secret,))
            if result.exit_code != 77 or time.monotonic() > deadline:
                return result
            time.sleep(0.3)

    def _client_settings(self, old: MailHostContainer, new: MailHostContainer) -> str:
        series_23 = new.dovecot_series == "2.3"
        lines = ["# imapc: this server reads the old one over IMAP", "imapc_host = old", "imapc_port = 143"]
        if series_23:
            lines += ["imapc_user = %u", "imapc_features = rfc822.size fetch-headers"]
        if self.auth == "master_user":
            lines.append(f"imapc_master_user = {MASTER_USER}")
        if old.config.namespace == "courier":
            lines.append("imapc_list_prefix = INBOX")
        if self.pop3_migration:
            lines += ["pop3c_host = old", "pop3c_port = 110"]
            if series_23:
                lines.append("pop3c_user = %u")
            if self.auth == "master_user":
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
        return "\n".join(lines) + "\n"
