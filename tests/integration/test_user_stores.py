"""The admin's own user store on real hosts (docs/own-server.md, "Own user store"): what the lab
refuses to stand in for, each case a copy of the shipped postfixadmin-2.3 scenario damaged once.
The shipped stores passing (and their negative controls) are rows of test_rehearsals.PATHS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, maillab

SHIPPED = ROOT / "scenarios" / "postfixadmin-2.3.yaml"
FOLDER = ROOT / "scenarios" / "own-config" / "postfixadmin-2.3"
STORE = "user_store: {preset: postfixadmin}"


def database_elsewhere(tmp_path: Path) -> str:
    """The store's database is not the one the admin's configuration names."""
    return SHIPPED.read_text().replace(STORE, "user_store: {preset: postfixadmin, database: postfixadmin}")


def schema_refused(tmp_path: Path) -> str:
    """A schema MariaDB refuses (a typo in a CREATE TABLE)."""
    (tmp_path / "broken.sql").write_text("CREATE TABLE mailbox (username varchar(255) NOT NUL);\n")
    return SHIPPED.read_text().replace(STORE, "user_store: {preset: postfixadmin, schema: broken.sql}")


def mail_where_dovecot_does_not_look(tmp_path: Path) -> str:
    """The lab's own store (ISPmail's tables, seeded at ~/Maildir) under an admin's configuration
    that looks for mail in ~/mail: old would serve empty mailboxes, and every check would pass."""
    folder = tmp_path / "own-config" / "postfixadmin-2.3"
    config = (folder / "dovecot" / "dovecot.conf").read_text()
    (folder / "dovecot" / "dovecot.conf").write_text(config.replace("maildir:~/Maildir", "maildir:~/mail"))
    shutil.rmtree(folder / "postfix")
    shutil.copytree(ROOT / "scenarios" / "own-config" / "bookworm" / "postfix", folder / "postfix")
    (folder / "dovecot" / "dovecot-sql.conf.ext").write_text(
        (ROOT / "scenarios" / "own-config" / "bookworm" / "dovecot" / "dovecot-sql.conf.ext").read_text())
    return SHIPPED.read_text().replace(STORE, "user_store: sql")


# (case, the scenario's text, run's exit code, what its last line of stderr holds; the schema's
# case also MariaDB's own words, ERROR 1064)
CASES = [
    ("a database the configuration does not name", database_elsewhere, 2,
     "hosts.old.user_store.database: the store's database is postfixadmin, but dovecot/dovecot-sql.conf.ext:3 "
     "names dbname postfix"),
    ("a schema MariaDB refuses", schema_refused, 2, "broken.sql: MariaDB refuses it: "),
    ("mail seeded where old's Dovecot does not look", mail_where_dovecot_does_not_look, 3,
     "old serves 0 of the 100 messages the lab seeded: they are not where old's Dovecot looks for them"),
]


@pytest.mark.parametrize(("case", "scenario", "exit_code", "message"), CASES, ids=[c[0] for c in CASES])
def test_what_the_lab_cannot_stand_in_for_ends_the_run(images, tmp_path, case, scenario, exit_code, message):
    shutil.copytree(FOLDER, tmp_path / "own-config" / "postfixadmin-2.3")
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario(tmp_path))
    run = maillab("run", str(path), "--report-dir", str(tmp_path / "reports"))
    assert run.returncode == exit_code, run.stdout[-3000:] + run.stderr
    [last] = run.stderr.strip().splitlines()[-1:]
    assert message in last and (scenario is not schema_refused or "ERROR 1064 (42000) at line 1" in last), run.stderr
