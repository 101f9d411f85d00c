"""The Dovecot 2.4 scenarios of the new-server road (docs/dovecot-24.md) as data: each one
rehearses the same admin, users and steps as its base, with exactly the fault its name says in
new's 2.4 translation. Pure: reads the scenario files and their configuration folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from maillab.runner.schema.loader import load_scenario
from maillab.runner.schema.sources import config_files

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios/bookworm-to-trixie-own-config.yaml"
OLD_23 = ROOT / "scenarios/own-config/bookworm-to-trixie-2.3"
NEW_24 = ROOT / "scenarios/own-config/bookworm-to-trixie-2.4"
OWN = ROOT / "tests/integration/scenarios/own-config"
BACKUP = ["copy_userdb", "doveadm_backup"]
RSYNC = ["copy_userdb", "ssh_root_key", "rsync", "force_resync", "ssh_root_key"]

# (scenario, its steps, old's folder and the base that folder differs from, new's folder, and
# how new's files differ from the base translation: file -> (text only the base has, text only
# new has); None: a file only one of them has)
ROAD = [
    ("negative-24-without-layout-fs", RSYNC, OLD_23, OLD_23, OWN / "24-without-layout-fs",
     {"dovecot/dovecot.conf": ("mailbox_list_layout = fs", "")}),
    ("variant-24-sql-mail-field", BACKUP, OLD_23, OLD_23, OWN / "24-sql-mail-field",
     {"dovecot/conf.d/10-auth.conf": ("", "'maildir:~/Maildir:LAYOUT=fs' AS mail")}),
    ("negative-24-pop3-uidl-format-dropped", BACKUP, OLD_23, OLD_23, OWN / "24-pop3-uidl-format-dropped",
     {"dovecot/conf.d/20-pop3.conf": None, "dovecot/dovecot.conf": ("", "")}),
    ("negative-24-sieve-settings-of-2.3", BACKUP, OLD_23, OLD_23, OWN / "24-sieve-settings-of-2.3",
     {"dovecot/conf.d/90-sieve.conf": ("sieve_script personal {", "sieve = file:~/sieve;active=~/.dovecot.sieve"),
      "dovecot/dovecot.conf": ("", "")}),
    ("variant-24-mdbox-without-directory-name-legacy", RSYNC, OWN / "bookworm-2.3-mdbox", OLD_23, OWN / "24-mdbox",
     {"dovecot/dovecot.conf": ("mail_driver = maildir", "mail_driver = mdbox")}),
    ("variant-24-mdbox-directory-name-legacy-no", RSYNC, OWN / "bookworm-2.3-mdbox", OLD_23,
     OWN / "24-mdbox-directory-name-legacy-no",
     {"dovecot/dovecot.conf": ("mail_driver = maildir", "mailbox_directory_name_legacy = no")}),
    ("variant-24-subscriptions-rsync", RSYNC, OLD_23, OLD_23, NEW_24, {}),
]


def differing(base: Path, other: Path) -> dict[str, tuple[str, str] | None]:
    """file -> (lines only the base has, lines only `other` has), None where one lacks the file."""
    ours, theirs = config_files(base), config_files(other)
    found = {}
    for name in sorted(ours.keys() | theirs.keys()):
        if name not in ours or name not in theirs:
            found[name] = None
        elif ours[name] != theirs[name]:
            a, b = ours[name].decode().splitlines(), theirs[name].decode().splitlines()
            found[name] = ("\n".join(line for line in a if line not in b), "\n".join(line for line in b if line not in a))
    return found


def test_the_base_runs_the_admins_23_and_its_24_translation():
    base = load_scenario(BASE)
    assert (base.hosts["old"].suite, base.hosts["new"].suite) == ("bookworm", "trixie")
    assert (Path(base.hosts["old"].config), Path(base.hosts["new"].config)) == (OLD_23, NEW_24)
    assert [step.method for step in base.steps] == BACKUP


@pytest.mark.parametrize(("name", "steps", "old", "old_base", "new", "faults"), ROAD, ids=[row[0] for row in ROAD])
def test_one_fault_in_the_translation(name, steps, old, old_base, new, faults):
    scenario, base = load_scenario(ROOT / f"tests/integration/scenarios/{name}.yaml"), load_scenario(BASE)
    assert scenario.users == base.users
    assert [step.method for step in scenario.steps] == steps
    assert (Path(scenario.hosts["old"].config), Path(scenario.hosts["new"].config)) == (old, new)
    # old's mdbox folder is the base's with its mail_location alone changed
    assert set(differing(old_base, old)) <= {"dovecot/dovecot.conf"}
    found = differing(NEW_24, new)
    assert set(found) == set(faults)
    for name, (gone, added) in ((n, f) for n, f in faults.items() if f is not None):
        assert gone in found[name][0] and added in found[name][1], (name, found[name])


def test_the_comparison_sees_a_changed_line(tmp_path):
    """The harness's own check: a translation with one more setting differs in that file."""
    for path, content in config_files(NEW_24).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    with (tmp_path / "dovecot/conf.d/10-mail.conf").open("a") as conf:
        conf.write("mailbox_list_layout = index\n")
    assert differing(NEW_24, tmp_path) == {"dovecot/conf.d/10-mail.conf": ("", "mailbox_list_layout = index")}
