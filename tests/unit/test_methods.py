"""Golden tables: what each migration method runs and writes, against a fake lab, in a second
and without Docker. A case is data (the step as a scenario writes it, the hosts, the exit codes
the fake hands out); its expected transcript is in golden-files/methods.golden under the
case's name; the harness is the code below the table.

A transcript line `new$ ARGV` is a command as a shell would need it quoted (shlex), so a value
that leaks into a shell string or loses its quoting shows up here; `new: write PATH (MODE)` is
a file with its content after `  | `. After a deliberate change, MAILLAB_WRITE_GOLDEN=1 rewrites
the golden file; read its diff before committing it.
"""

from __future__ import annotations

import os
import pkgutil
import re
from pathlib import Path

import pytest

from maillab.runner import methods
from maillab.runner.methods import execute, executors
from maillab.runner.methods.context import MigrationContext
from maillab.runner.schema.scenario import Scenario
from maillab.runner.schema.steps import METHODS, STEP_TYPES

from .fakes import FakeLab

FILES = Path(__file__).parent / "golden-files"
PASSWORDS = {"a@example.org": "pw-a", "-bob@example.org": "pw-bob"}
BULLSEYE_TO_BOOKWORM = {"old": {"suite": "bullseye"}, "new": {"suite": "bookworm"}}
BOOKWORM_TO_TRIXIE = {"old": {"suite": "bookworm"}, "new": {"suite": "trixie"}}
BOOKWORM_IN_PLACE = {"old": {"suite": "bookworm", "config": "own-config-2.3", "mail_store": "disk"}}


def scenario_with(step: dict | list[dict], hosts: dict) -> Scenario:
    """A scenario whose last step is the one run; steps before it are what it needs first."""
    scenario = Scenario.model_validate({
        "name": "golden", "description": "one step", "hosts": hosts,
        "users": [{"address": "a@example.org", "folders": [{"name": "INBOX"}, {"name": "Archive"}]},
                  {"address": "-bob@example.org", "folders": [{"name": "Archive"}]}],
        "steps": step if isinstance(step, list) else [step],
        "cutover": {"day": 8640},  # guide time runs 10 times as fast in the lab
    })
    scenario._base_dir = FILES
    return scenario


def transcript_of(step: dict, hosts: dict = BULLSEYE_TO_BOOKWORM, exits: dict | None = None) -> str:
    scenario = scenario_with(step, hosts)
    assert scenario.steps[-1].problem_with(scenario) is None
    lab = FakeLab(scenario.hosts, exits)
    lab.hosts["old"].files["/etc/dovecot/users"] = b"a@example.org:{SHA512-CRYPT}x::::::\n"
    context = MigrationContext(lab, scenario, dict(PASSWORDS), sleep=lambda s: lab.transcript.add(f"(wait {s} s)"))
    results = execute(scenario.steps[-1], context)
    assert all(result.ok for result in results), [r.model_dump() for r in results]
    for result in results:  # every lab secret and user password is masked in what is reported
        for secret in (*lab.secrets, *PASSWORDS.values()):
            assert secret not in result.command + result.output, (secret, result.command)
    for line in lab.transcript.lines:  # and is in no command line (`ps` shows those): an env or a file
        if re.match(r"[a-z-]+\$ ", line):
            assert not [secret for secret in (*lab.secrets, *PASSWORDS.values()) if secret in line], line
    return lab.transcript.text()


# (case, step (or steps: the last one runs), hosts, exit codes the fake hands out)
GOLDEN = [
    ("copy_userdb, sql", {"method": "copy_userdb"}, BULLSEYE_TO_BOOKWORM, None),
    ("copy_userdb, passwd-file", {"method": "copy_userdb"},
     {"old": {"suite": "bullseye", "user_store": "passwd-file"}, "new": {"suite": "bookworm", "user_store": "passwd-file"}},
     None),
    ("copy_userdb, the admin's own store in MariaDB", {"method": "copy_userdb"}, {
        role: {"suite": "bookworm", "config": "own", "user_store": {"preset": "postfixadmin"}} for role in ("old", "new")},
     None),
    ("copy_userdb, the admin's own store in PostgreSQL", {"method": "copy_userdb"}, {
        role: {"suite": "bookworm", "config": "own", "user_store": {
            "kind": "postgresql", "schema": "s.sql", "database": "postfix",
            "templates": {"user": "INSERT INTO mailbox (username) VALUES ({address})"}}} for role in ("old", "new")},
     None),
    ("doveadm backup, pull, all users, tcp", {"method": "doveadm_backup"}, BULLSEYE_TO_BOOKWORM, None),
    ("doveadm backup, a desync (exit 2) is run again", {"method": "doveadm_backup", "desync_retries": 1},
     BULLSEYE_TO_BOOKWORM, {"doveadm -o mail_fsync=never backup": [2, 0]}),
    ("doveadm sync -1, push, listed users, ssh into 2.4", {"method": "doveadm_backup", "command": "sync",
     "one_way": True, "direction": "push", "transport": "ssh", "users": ["-bob@example.org", "a@example.org"]},
     BOOKWORM_TO_TRIXIE, None),
    ("doveadm sync -1 -f, pull, all users, tcp: a full sync", {"method": "doveadm_backup", "command": "sync",
     "one_way": True, "full": True}, BULLSEYE_TO_BOOKWORM, None),
    ("doveadm backup, users file", {"method": "doveadm_backup", "users": "file", "mail_fsync": "optimized"},
     BULLSEYE_TO_BOOKWORM, None),
    ("doveadm sync, seed 002's Gmail excludes, and a folder by its Courier-style name",
     {"method": "doveadm_backup", "command": "sync", "exclude": ["\\Flagged", "\\Important", "Archive"]},
     {"old": {"suite": "bullseye", "namespace": "courier"}, "new": {"suite": "bookworm"}}, None),
    ("imapc, user passwords, Courier-style old", {"method": "imapc"},
     {"old": {"suite": "bullseye", "namespace": "courier"}, "new": {"suite": "bookworm"}}, None),
    ("imapc from Gmail (seed 002), starred mail left out", {"method": "imapc", "gmail_migration": True,
     "exclude": ["\\Flagged"]}, {"old": {"suite": "bookworm", "server": "gmail"},
                                  "new": {"suite": "bookworm", "special_folders": "gmail"}}, None),
    ("imapc, master user, pop3_migration, into 2.4", {"method": "imapc", "auth": "master_user", "pop3_migration": True,
     "users": ["a@example.org"]}, BOOKWORM_TO_TRIXIE, None),
    ("imapc, master password, from 2.3", {"method": "imapc", "auth": "master_password", "users": ["a@example.org"]},
     BULLSEYE_TO_BOOKWORM, None),
    ("mbsync", {"method": "mbsync"}, BULLSEYE_TO_BOOKWORM, None),
    ("imapsync", {"method": "imapsync", "script": "imapsync", "args": ["--dry"]}, BULLSEYE_TO_BOOKWORM, None),
    ("mysqldump", {"method": "mysqldump"}, BULLSEYE_TO_BOOKWORM, None),
    ("sql, the statement is one argument", {"method": "sql", "database": "roundcube",
     "statement": "UPDATE users SET mail_host='new' WHERE username LIKE '%; rm -rf /'"}, BULLSEYE_TO_BOOKWORM, None),
    ("rsync, hot, with excludes", {"method": "rsync", "phase": "hot", "exclude": ["dovecot-uidlist", "* x"]},
     BULLSEYE_TO_BOOKWORM, {"rsync": 24}),
    ("force_resync", {"method": "force_resync"}, BULLSEYE_TO_BOOKWORM, None),
    ("ssh_root_key install", {"method": "ssh_root_key", "action": "install", "client": "new"},
     BULLSEYE_TO_BOOKWORM, None),
    ("ssh_root_key remove", {"method": "ssh_root_key", "action": "remove", "client": "new"},
     BULLSEYE_TO_BOOKWORM, {"ssh -o BatchMode=yes": 255}),
    ("your script, on the migrator", {"method": "script", "path": "migrate.sh", "on": "migrator",
     "args": ["--batch", "it's; $(reboot)"]}, BULLSEYE_TO_BOOKWORM, None),
    ("your script, on new, old is Gmail (no sshd: only new gets the key)",
     {"method": "script", "path": "migrate.sh", "on": "new"},
     {"old": {"suite": "bookworm", "server": "gmail"}, "new": {"suite": "bookworm"}}, None),
    ("send_mail to new", {"method": "send_mail", "to": "new", "count": 2, "users": ["a@example.org"]},
     BULLSEYE_TO_BOOKWORM, None),
    ("change_flags on a Courier-style old", {"method": "change_flags", "folder": "Archive", "count": 3,
     "add": ["\\Flagged", "$Important"], "remove": ["\\Seen"]}, {"old": {"suite": "bullseye", "namespace": "courier"},
     "new": {"suite": "bookworm"}}, None),
    ("service stop", {"method": "service", "host": "old", "service": "postfix", "action": "stop"},
     BULLSEYE_TO_BOOKWORM, None),
    ("dns, new as the secondary MX", {"method": "dns", "mx": ["old", "new"], "ttl": 3600}, BULLSEYE_TO_BOOKWORM, None),
    ("dns, mail.<domain> to new", {"method": "dns", "a": "new", "ttl": 60, "domain": "example.org"},
     BULLSEYE_TO_BOOKWORM, None),
    ("postconf soft_bounce on new", {"method": "postconf", "settings": {"soft_bounce": "yes"}},
     BULLSEYE_TO_BOOKWORM, None),
    ("postconf on the sender", {"method": "postconf", "host": "sender",
     "settings": {"maximal_backoff_time": "5s", "smtp_connect_timeout": "2s"}}, BULLSEYE_TO_BOOKWORM, None),
    ("queue drain", {"method": "queue", "action": "drain", "within": 5}, BULLSEYE_TO_BOOKWORM, None),
    ("queue flush", {"method": "queue", "action": "flush"}, BULLSEYE_TO_BOOKWORM, None),
    ("queue drain on old", {"method": "queue", "host": "old", "within": 5}, BULLSEYE_TO_BOOKWORM, None),
    ("wait a day", {"method": "wait", "seconds": 86400}, BULLSEYE_TO_BOOKWORM, None),
    ("certificates", [{"method": "ssh_root_key", "action": "install", "client": "new"}, {"method": "certificates"}],
     BULLSEYE_TO_BOOKWORM, None),
    ("dist_upgrade in place, the admin's 2.4 configuration put in place",
     {"method": "dist_upgrade", "config": "own-config-2.4"}, BOOKWORM_IN_PLACE, None),
    ("dist_upgrade in place, the configuration kept", {"method": "dist_upgrade"}, BOOKWORM_IN_PLACE, None),
    ("convert_courier after the copy", {"method": "convert_courier"},
     {"old": {"suite": "bookworm", "server": "courier"}, "new": {"suite": "bookworm"}}, None),
]


GOLDEN_FILE = FILES / "methods.golden"
HEADER = "=== "


def golden() -> dict[str, str]:
    sections = GOLDEN_FILE.read_text().rstrip("\n").split(f"\n{HEADER}")
    return dict(section.removeprefix(HEADER).split("\n", 1) for section in sections)


@pytest.mark.parametrize(("case", "step", "hosts", "exits"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_each_method_runs_exactly_this(case, step, hosts, exits):
    assert transcript_of(step, hosts, exits) == golden()[case]


def test_the_golden_file_holds_exactly_the_cases():
    if os.environ.get("MAILLAB_WRITE_GOLDEN"):
        GOLDEN_FILE.write_text("\n".join(f"{HEADER}{case}\n{transcript_of(*rest)}" for case, *rest in GOLDEN) + "\n")
    assert list(golden()) == [case for case, *_ in GOLDEN]


def test_every_method_has_an_executor_and_a_golden_case():
    assert set(executors()) == set(STEP_TYPES)
    assert {(step[-1] if isinstance(step, list) else step)["method"] for _, step, *_ in GOLDEN} == set(METHODS)


def test_each_method_is_one_module_named_after_it():
    modules = {module.name for module in pkgutil.iter_modules(methods.__path__)} - {"context"}
    assert modules == set(METHODS)
    assert {spec: executor.__module__.rsplit(".", 1)[1] for spec, executor in executors().items()} == \
           {spec: spec.model_fields["method"].annotation.__args__[0] for spec in STEP_TYPES}
