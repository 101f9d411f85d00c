"""The migration steps a scenario may list, as data: one spec per method, tagged by `method`.

A spec says what to do; it runs nothing. Its executor lives in `runner/methods/<method>.py`,
registered against the spec there (`@executes`). A spec may describe itself
(`describe`) and say why it cannot run in a scenario (`problem_with`), both pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field

from .vocabulary import (
    DOVECOT_SERIES, NEXT_SUITE, Address, ArgText, Database, Domain, Flag, FolderName, Machine, Role, Service,
    SourcePath, checked_str, shaped,
)

if TYPE_CHECKING:
    from .scenario import Scenario

COMMAND_TIMEOUT = 1800  # seconds one command of a step may take unless the step says otherwise


class Step(BaseModel):
    """What every step has. Subclasses set `method` to a Literal tag."""

    model_config = ConfigDict(extra="forbid")
    # Whether running the step a second time must leave the new server unchanged
    # (Molecule's idempotence phase reruns these).
    rerun_in_idempotence: bool = True
    # Seconds any one command of the step may take: a hung command ends the run (exit 3) with
    # its name, instead of a rehearsal that never ends.
    timeout: int = Field(COMMAND_TIMEOUT, ge=1, le=7 * 86400)

    @property
    def changes_old(self) -> bool:
        """Whether the step is meant to change the old server's mail (then new must match old
        as it is after the migration, and old is not held to its baseline)."""
        return False

    def problem_with(self, scenario: Scenario) -> str | None:
        """A reason this step cannot run in `scenario`, or None."""
        return None

    def describe(self) -> str:
        raise NotImplementedError


def _unknown_folder(exclude: list[str], scenario: Scenario) -> str | None:
    folders = {name for user in scenario.users for name in user.all_folder_names()}
    unknown = [mask for mask in exclude if not mask.startswith("\\") and mask not in folders]
    return f"exclude names a folder no user has: {unknown[0]}" if unknown else None


def _unknown_users(users: str | list[str], scenario: Scenario) -> str | None:
    if not isinstance(users, list):  # all, or the users file
        return None
    known = {user.address for user in scenario.users}
    unknown = [user for user in users if user not in known]
    return f"users not in the scenario: {', '.join(unknown)}" if unknown else None


class CopyUserDb(Step):
    """sql: `mysqldump mailserver` | `mysql mailserver` (the ISPmail guide); passwd-file: copy
    /etc/dovecot/users (the doveadm walkthrough, seed 000)."""

    method: Literal["copy_userdb"]

    def problem_with(self, scenario: Scenario) -> str | None:
        if len({host.user_store for host in scenario.hosts.values()}) != 1:
            return "copy_userdb needs the same user store (sql, passwd-file or the same own store) on old and new"
        return None

    def describe(self) -> str:
        return "copy the user list from old to new"


# SPECIAL-USE flags (RFC 6154, and RFC 8457's \Important) by which dsync's -x finds a folder
# whatever its name ("which may be different for different user depending on their language",
# seed 002).
SpecialUse = Literal["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Important", "\\Junk", "\\Sent", "\\Trash"]


class DoveadmBackup(Step):
    """`doveadm backup` or `sync`, pulled by new (-R) or pushed by old, over the doveadm
    service (tcp) or ssh (`remote:`)."""

    method: Literal["doveadm_backup"]
    command: Literal["backup", "sync"] = "backup"
    direction: Literal["pull", "push"] = "pull"
    transport: Literal["tcp", "ssh"] = "tcp"
    users: Literal["all", "file"] | list[Address] = "all"
    one_way: bool = False  # sync -1: a backup that keeps what only the destination has
    # -f, a full sync: without it dsync visits only folders whose UIDVALIDITY, UIDNEXT or
    # HIGHESTMODSEQ differ, and one that got as many changes on both sides "may get
    # incorrectly skipped" (Dovecot's dsync-brain.h): sync -1 then drops the source's mail
    # silently (docs/paths.md, "The secondary-MX cutover waits for the internet")
    full: bool = False
    desync_retries: int = Field(2, ge=0, le=10)
    mail_fsync: Literal["never", "optimized", "always"] = "never"
    # folders dsync leaves out (-x): a SPECIAL-USE flag or a folder name (seed 002's Gmail
    # migration: `-x '\Flagged' -x '\Important'`)
    exclude: list[SpecialUse | FolderName] = []

    def describe(self) -> str:
        command = self.command + (" -1" if self.one_way else "") + (" -f" if self.full else "")
        command += "".join(f" -x '{mask}'" for mask in self.exclude)
        users = {"all": "-A", "file": "-F users file"}.get(self.users) if isinstance(self.users, str) \
            else " ".join(f"-u {user}" for user in self.users)
        return f"doveadm {command} ({self.direction}, {users}, {self.transport})"

    def problem_with(self, scenario: Scenario) -> str | None:
        if self.one_way and self.command != "sync":
            return "one_way (-1) goes with command: sync"
        return _unknown_folder(self.exclude, scenario) or _unknown_users(self.users, scenario)


# The virtual mailbox of all mail the Gmail road backs up by (`-a`), and the Dovecot it is
# rehearsed into: the settings are 2.3's (docs/gmail.md)
GMAIL_ALL_VIRTUAL = "virtual/All"
GMAIL_MIGRATION_SUITES = ("bullseye", "bookworm")


class Imapc(Step):
    """new pulls each user over IMAP from old: `doveadm backup -R -u USER imapc:`."""

    method: Literal["imapc"]
    auth: Literal["user_password", "master_password", "master_user"] = "user_password"
    pop3_migration: bool = False  # keep POP3 UIDLs with pop3c + the pop3_migration plugin
    users: Literal["all"] | list[Address] = "all"
    # seed 002's Gmail road: imapc_features = gmail-migration (labels read per message, Gmail's
    # POP3 UIDLs, pop3_deleted_flag)
    gmail_migration: bool = False
    # -a virtual/All, a virtual mailbox of all mail (the seed's): each message is read once and
    # hard-linked into its labels' folders. Measured (Dovecot 2.3.19): INBOX mail whose other
    # label's folder syncs first arrives without Gmail's POP3 UIDL (docs/gmail.md)
    link_labels: bool = True
    # -O '-$GmailHaveLabels': of All Mail only the archived mail (in no label), the rest comes
    # with its labels' folders
    skip_labelled: bool = True
    # folders the backup leaves out (-x): a SPECIAL-USE flag or a folder name
    exclude: list[SpecialUse | FolderName] = []

    def describe(self) -> str:
        pop3 = " + pop3_migration" if self.pop3_migration else ""
        options = "".join(f" {option}" for option in self.gmail_options)
        options += "".join(f" -x '{mask}'" for mask in self.exclude)
        return f"doveadm backup{options} -R imapc:{pop3} (on new, {self.auth.replace('_', ' ')})"

    @property
    def gmail_options(self) -> list[str]:
        """What Gmail's road adds to `doveadm backup` (seed 002: -a 'virtual/All' -O '-$GmailHaveLabels')."""
        if not self.gmail_migration:
            return []
        return [*(["-a", GMAIL_ALL_VIRTUAL] if self.link_labels else []),
                *(["-O", "-$GmailHaveLabels"] if self.skip_labelled else [])]

    def problem_with(self, scenario: Scenario) -> str | None:
        if scenario.hosts["new"].namespace != "dovecot":
            return "imapc pulls into a server with Dovecot's default namespace (hosts.new.namespace: dovecot)"
        if self.gmail_migration and scenario.hosts["old"].server != "gmail":
            return "gmail_migration reads Gmail's IMAP extension: old is not server: gmail"
        if self.gmail_migration and self.pop3_migration:
            return "gmail_migration keeps Gmail's POP3 UIDLs itself (from X-GM-MSGID): no pop3_migration"
        if self.gmail_migration and scenario.hosts["new"].suite not in GMAIL_MIGRATION_SUITES:
            return f"gmail_migration is rehearsed into Dovecot 2.3 ({', '.join(GMAIL_MIGRATION_SUITES)})"
        if not self.gmail_migration and (gmail_only := {"skip_labelled", "link_labels"} & self.model_fields_set):
            return f"{min(gmail_only)} goes with gmail_migration"
        return _unknown_folder(self.exclude, scenario) or _unknown_users(self.users, scenario)


class Mbsync(Step):
    """mbsync (isync) IMAP -> IMAP, on new: a client-side copy, the negative control."""

    method: Literal["mbsync"]

    def describe(self) -> str:
        return "mbsync IMAP -> IMAP (isync), on new"


class _UserFile(Step):
    """A step that runs a file the user provides, found relative to the scenario file."""

    def source(self, scenario: Scenario, path: str):
        return (scenario.base_dir / path).resolve()

    def missing(self, scenario: Scenario, path: str, what: str) -> str | None:
        source = self.source(scenario, path)
        if source.exists() and not source.is_file():  # a FIFO would block, a device never ends
            return f"{what} '{path}' is not a regular file ({source})"
        if not source.is_file():
            return f"{what} '{path}' not found (looked for {source})"
        return None


class Imapsync(_UserFile):
    """imapsync per user on its own machine, with the user's copy of the script."""

    method: Literal["imapsync"]
    script: ArgText = Field(min_length=1)  # your copy of the imapsync script, relative to the scenario file
    args: list[ArgText] = []

    def problem_with(self, scenario: Scenario) -> str | None:
        if problem := self.missing(scenario, self.script, "imapsync script"):
            return problem + "; imapsync is in no Debian suite: put your copy there"
        return None

    def describe(self) -> str:
        return "imapsync IMAP -> IMAP, per user, on its own machine"


class Mysqldump(Step):
    """`mysqldump DB > DB.sql` on old, the file copied, `mysql DB < DB.sql` on new (seed 003)."""

    method: Literal["mysqldump"]
    databases: list[Database] = Field(list(get_args(Database)), min_length=1)

    def describe(self) -> str:
        return f"mysqldump | mysql: {', '.join(self.databases)}"


class Sql(Step):
    """One SQL statement in a database on a host (the guide's `UPDATE users SET mail_host`)."""

    method: Literal["sql"]
    host: Role = "new"
    database: Database
    statement: ArgText = Field(min_length=1)

    @property
    def changes_old(self) -> bool:
        return self.host == "old"

    def describe(self) -> str:
        return f"{self.statement} ({self.database} on {self.host})"


class Rsync(Step):
    """On new, `rsync -a root@old:/var/vmail/ /var/vmail/` over ssh; `cold` adds --delete."""

    method: Literal["rsync"]
    phase: Literal["hot", "cold"] = "cold"
    exclude: list[ArgText] = []

    def describe(self) -> str:
        return f"rsync /var/vmail from old ({self.phase}{', --delete' if self.phase == 'cold' else ''}), on new"


class ForceResync(Step):
    """`doveadm force-resync -A '*'` on new."""

    method: Literal["force_resync"]

    def describe(self) -> str:
        return "doveadm force-resync -A '*' (on new)"


class ConvertCourier(Step):
    """After a Courier Maildir was copied to new (rsync): Courier's UID, POP3 and keyword files
    and subscriptions turned into Dovecot's, with the project's converter
    (dockerfiles/mailhost/courier-to-dovecot, after Dovecot's wiki script courier-dovecot-migrate.pl)."""

    method: Literal["convert_courier"]

    def problem_with(self, scenario: Scenario) -> str | None:
        if scenario.hosts["old"].server != "courier":
            return "convert_courier reads the Maildir files of Courier-IMAP: old must be server: courier"
        return None

    def describe(self) -> str:
        return "courier-to-dovecot --recursive --convert /var/vmail (on new)"


class SshRootKey(Step):
    """install: root login by key only from `client` to its peer; remove: both halves gone."""

    method: Literal["ssh_root_key"]
    action: Literal["install", "remove"]
    client: Role = "old"  # where ssh (and so doveadm) runs

    @property
    def peer(self) -> str:
        return "new" if self.client == "old" else "old"

    def describe(self) -> str:
        return f"{self.action} a root ssh key from {self.client} to {self.peer} (key only)"


class Script(_UserFile):
    """Your own migration script, as root on old, new or a migrator machine."""

    method: Literal["script"]
    path: ArgText = Field(min_length=1)  # relative to the scenario file
    on: Machine = "new"
    args: list[ArgText] = []

    def problem_with(self, scenario: Scenario) -> str | None:
        return self.missing(scenario, self.path, "script")

    def describe(self) -> str:
        return f"your script {self.path} (as root on {self.on})"


class SendMail(Step):
    """`count` messages over SMTP to every user (or those listed) on `to`, waiting until
    LMTP delivered them, so the next step sees them."""

    method: Literal["send_mail"]
    to: Role
    count: int = Field(3, ge=1, le=1000)
    users: Literal["all"] | list[Address] = "all"
    rerun_in_idempotence: bool = False  # a second wave of mail is not "the same run again"

    @property
    def changes_old(self) -> bool:
        return self.to == "old"

    def problem_with(self, scenario: Scenario) -> str | None:
        return _unknown_users(self.users, scenario)

    def describe(self) -> str:
        return f"{self.count} messages per user over SMTP to {self.to}"


class ChangeFlags(Step):
    """Users keep working: flags change on the first `count` messages of a folder."""

    method: Literal["change_flags"]
    host: Role = "old"
    folder: FolderName = "INBOX"
    count: int = Field(5, ge=1, le=1_000_000)
    add: list[Flag] = ["\\Flagged"]
    remove: list[Flag] = []
    rerun_in_idempotence: bool = False

    @property
    def changes_old(self) -> bool:
        return self.host == "old"

    def problem_with(self, scenario: Scenario) -> str | None:
        lacking = [user.address for user in scenario.users if self.folder not in user.all_folder_names()]
        if lacking:
            return f"folder '{self.folder}' is not a folder of {', '.join(lacking)}"
        return None

    def describe(self) -> str:
        changes = " ".join([f"+{f}" for f in self.add] + [f"-{f}" for f in self.remove])
        return f"{changes} on {self.count} messages of {self.folder} on {self.host}"


class ServiceAction(Step):
    """Stop or start one service on a host (supervisorctl)."""

    method: Literal["service"]
    host: Role
    service: Service
    action: Literal["stop", "start"]
    rerun_in_idempotence: bool = False

    def describe(self) -> str:
        return f"{self.action} {self.service} on {self.host}"


class DistUpgrade(Step):
    """The host upgraded in place to the next Debian suite, as the release notes say: the
    sources switched, `apt-get full-upgrade` without questions, the admin's changed
    configuration files kept (dpkg's and ucf's "keep the installed version", as an unattended
    upgrade does); optionally the admin's new configuration put in place; then a reboot."""

    method: Literal["dist_upgrade"]
    host: Literal["old"] = "old"  # an in-place rehearsal has one host: the one upgraded
    # the admin's configuration for the new suite (as hosts.<role>.config), put in place before
    # the host restarts; unset: what dpkg kept is what the host starts with
    config: SourcePath | None = None
    rerun_in_idempotence: bool = False  # an upgrade happens once

    def target(self, scenario: Scenario) -> str:
        return NEXT_SUITE[scenario.hosts[self.host].suite]

    def problem_with(self, scenario: Scenario) -> str | None:
        suite = scenario.hosts[self.host].suite
        if suite not in NEXT_SUITE:
            return f"{suite} has no next suite to upgrade to (supported: " + \
                ", ".join(f"{a} to {b}" for a, b in NEXT_SUITE.items()) + ")"
        if "new" in scenario.hosts:
            return "an upgrade in place is a rehearsal of its own: hosts name only 'old'"
        if sum(isinstance(step, DistUpgrade) for step in scenario.steps) > 1:
            return "one dist_upgrade a rehearsal (the release notes never skip a suite)"
        if scenario.hosts[self.host].mail_store != "disk":
            return (f"the upgrade reboots {self.host}, and mail kept in memory is gone after a reboot: set "
                    f"hosts.{self.host}.mail_store: disk")
        if (store := scenario.hosts[self.host].own_store) and store.kind != "mariadb":
            return (f"an upgrade in place rehearses MariaDB user stores only: {store.kind}'s own upgrade "
                    "(pg_upgradecluster, slapd's database) is not reproduced (docs/dovecot-24.md)")
        if scenario.hosts[self.host].config is None and (
                self.config is not None or DOVECOT_SERIES[suite] != DOVECOT_SERIES[NEXT_SUITE[suite]]):
            return (f"the upgrade to {NEXT_SUITE[suite]} rehearses the admin's own configuration: set "
                    f"hosts.{self.host}.config (docs/dovecot-24.md)")
        return None

    def describe(self) -> str:
        kept = f"the configuration in {self.config} put in place" if self.config else "the configuration kept"
        return f"upgrade {self.host} in place (apt-get full-upgrade, {kept}, reboot)"


def _needs_cutover(step: Step, scenario: Scenario) -> str | None:
    if scenario.cutover is None:
        return f"{step.describe()}: this step acts on the lab's internet, which only a scenario with a cutover section has"
    return None


class Dns(Step):
    """Change a domain's MX or `mail.<domain>` A record, with a TTL (seed 003: "Switch the DNS
    records"; seeds 000/001: new as the secondary MX, then the primary). The TTL is in the
    guide's seconds: the lab scales it by `cutover.day`."""

    method: Literal["dns"]
    domain: Domain | None = None  # every domain of the scenario when unset
    mx: list[Role] | None = Field(None, min_length=1, max_length=2)  # the exchanges, first preferred
    a: Role | None = None  # where mail.<domain> points
    ttl: int = Field(86400, ge=1, le=7 * 86400)
    rerun_in_idempotence: bool = False

    def problem_with(self, scenario: Scenario) -> str | None:
        if (self.mx is None) == (self.a is None):
            return "a dns step sets either mx (a list of hosts) or a (one host)"
        if self.domain is not None and self.domain not in scenario.domains:
            return f"domain {self.domain} is no domain of the scenario's users"
        return _needs_cutover(self, scenario)

    def describe(self) -> str:
        where = self.domain or "every domain"
        if self.mx is not None:
            return f"MX of {where} -> {', '.join(self.mx)} (TTL {self.ttl} s)"
        return f"mail.{self.domain or '<domain>'} A -> {self.a} (TTL {self.ttl} s)"


# main.cf parameter names and values as `postconf -e` takes them: no '$' expansions, quotes
# or control characters.
PostconfName = checked_str(shaped(r"[a-z][a-z0-9_]{0,63}", "a Postfix parameter name"))
PostconfValue = checked_str(shaped(r"[A-Za-z0-9 ._,:/=+@\[\]-]{0,200}", "a Postfix parameter value the lab takes "
                                   "(letters, digits, spaces and . _ , : / = + @ [ ] -)"))


class Postconf(Step):
    """`postconf -e NAME=VALUE ...` and `postfix reload` on a host (seed 003: "postconf
    soft_bounce=yes" on new while checking, "soft_bounce=no" once mail flows)."""

    method: Literal["postconf"]
    host: Literal["old", "new", "sender"] = "new"
    settings: dict[PostconfName, PostconfValue] = Field(min_length=1)
    rerun_in_idempotence: bool = False

    def problem_with(self, scenario: Scenario) -> str | None:
        return _needs_cutover(self, scenario) if self.host == "sender" else None

    def describe(self) -> str:
        return f"postconf {' '.join(f'{k}={v}' for k, v in self.settings.items())} on {self.host}"


class Queue(Step):
    """A Postfix queue (the sender's, or a server's): `flush` (postqueue -f), or `drain`: flush
    and wait until it is empty or `within` seconds passed, listing what is stuck (seed 003:
    "run mailq from time to time to see what emails get stuck")."""

    method: Literal["queue"]
    host: Literal["sender", "old", "new"] = "sender"
    action: Literal["flush", "drain"] = "drain"
    within: float = Field(30, gt=0, le=86400)
    rerun_in_idempotence: bool = False

    def problem_with(self, scenario: Scenario) -> str | None:
        return _needs_cutover(self, scenario) if self.host == "sender" else None

    def describe(self) -> str:
        whose = "the sender's" if self.host == "sender" else f"{self.host}'s"
        return f"flush {whose} queue" if self.action == "flush" else \
            f"wait up to {self.within:g} s for {whose} queue to empty"


class Certificates(Step):
    """Copy /etc/letsencrypt from old to new with rsync over ssh, then reload Dovecot and
    Postfix (seed 003: "Copy over everything in /etc/letsencrypt ... rsync -va
    oldserver:/etc/letsencrypt/ /etc/letsencrypt/"). Needs an ssh_root_key install with
    client new before it."""

    method: Literal["certificates"]

    def problem_with(self, scenario: Scenario) -> str | None:
        index = next(i for i, step in enumerate(scenario.steps) if step is self)
        if not any(isinstance(step, SshRootKey) and step.action == "install" and step.client == "new"
                   for step in scenario.steps[:index]):
            return "certificates copies over ssh from new: an ssh_root_key install with client: new must come first"
        return _needs_cutover(self, scenario)

    def describe(self) -> str:
        return "copy /etc/letsencrypt from old to new (rsync over ssh), reload Dovecot and Postfix"


class Wait(Step):
    """Let time pass, in the guide's seconds scaled by `cutover.day` (seed 003: "it will take
    a day until everyone else on the internet picks up your TTL change")."""

    method: Literal["wait"]
    seconds: int = Field(ge=1, le=30 * 86400)
    rerun_in_idempotence: bool = False

    def problem_with(self, scenario: Scenario) -> str | None:
        return _needs_cutover(self, scenario)

    def describe(self) -> str:
        return f"wait {self.seconds} s (guide time)"


# What a step may do when old is not Dovecot (server: courier or cyrus): the IMAP side of a
# migration (imapc with the users' own passwords), and what acts on new or over IMAP. The others
# need Dovecot on old (doveadm, its SQL user store, its sshd).
FOREIGN_OLD_METHODS = frozenset({"imapc", "script", "send_mail", "change_flags", "service", "postconf", "queue",
                                 "wait"})
# and per kind, what its image also serves: Courier's Maildir over root's ssh (the copy road)
FOREIGN_OLD_EXTRA = {"courier": frozenset({"ssh_root_key", "rsync", "convert_courier", "force_resync"})}


def foreign_old_problem(step: Step, server: str) -> str | None:
    """Why `step` cannot run against an old server of kind `server` (not Dovecot), or None."""
    if step.method not in FOREIGN_OLD_METHODS | FOREIGN_OLD_EXTRA.get(server, frozenset()):
        return f"{step.method} needs Dovecot on old; old is {server} (imapc reads it over IMAP and POP3)"
    if step.method == "imapc" and step.auth != "user_password":
        return f"auth: {step.auth} is set up on a Dovecot old; {server} takes each user's own password (user_password)"
    if step.method in ("script", "service", "postconf", "queue", "ssh_root_key") and "old" in {
            getattr(step, "on", None), getattr(step, "host", None), getattr(step, "client", None)}:
        return f"{step.method} on old needs the lab's Dovecot host; old is {server}"
    return None


def in_place_problem(step: Step) -> str | None:
    """Why `step` cannot run in an in-place rehearsal (only old is there), or None."""
    where = {getattr(step, name) for name in ("host", "on", "to") if name in type(step).model_fields}
    if where == {"old"}:
        return None
    return f"{step.method} needs a host that an upgrade in place does not have (only old is there)"


# Every spec above with a `method` tag, in the order they are defined (errors list them so):
# a new method's spec is one class here, its executor one module in runner/methods/.
STEP_TYPES: tuple[type[Step], ...] = tuple(
    spec for spec in list(globals().values())
    if isinstance(spec, type) and issubclass(spec, Step) and "method" in spec.model_fields)
METHODS: tuple[str, ...] = tuple(get_args(spec.model_fields["method"].annotation)[0] for spec in STEP_TYPES)
StepSpec = Annotated[Union[STEP_TYPES], Field(discriminator="method")]  # noqa: UP007
