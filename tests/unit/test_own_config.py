"""The admin's own configuration, its pure parts (lab/own_config.py and the loader's check of
the folder): connect strings, the paths it names, what the lab adds, the servers' refusals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from maillab.lab.own_config import (
    ConfigProblem, NamedPath, database_mismatch, lab_additions, named_paths, parse_problems, postfix_additions, stage,
)
from maillab.runner.schema.loader import ScenarioError, load_scenario
from maillab.runner.schema.sources import CAPTURE_NOTES, config_files

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios/own-config/bookworm"
LAB_PASSWORD = "LabDbPw_1"

# (file, its text, the text the lab puts on the host, the admin's passwords found)
CONNECT_CASES = [
    ("dovecot/dovecot-sql.conf.ext",
     "driver = mysql\nconnect = host=db.example.org port=3307 dbname=mail user=admin password=S3cret\n",
     f"driver = mysql\nconnect = host=127.0.0.1 dbname=mail user=mailserver password={LAB_PASSWORD}\n", {"S3cret"}),
    ("dovecot/dovecot-sql.conf.ext",  # quoted as a whole, as some guides write it
     'connect = "host=/var/run/mysqld/mysqld.sock dbname=mail user=u password=pw"\n',
     f"connect = host=127.0.0.1 dbname=mail user=mailserver password={LAB_PASSWORD}\n", {"pw"}),
    ("dovecot/conf.d/auth-sql.conf.ext",  # Dovecot 2.4: the host is the section's name
     "sql_driver = mysql\nmysql db.example.org {\n  port = 3307\n  user = admin\n  password = S3cret\n"
     "  dbname = mail\n}\nuser_query = x\n",
     "sql_driver = mysql\nmysql 127.0.0.1 {\n  port = 3306\n  user = mailserver\n"
     f"  password = {LAB_PASSWORD}\n  dbname = mail\n}}\nuser_query = x\n", {"S3cret"}),
    ("postfix/mysql-virtual-mailbox-maps.cf",
     "user = admin\npassword = S3cret\nhosts = db.example.org:3307\ndbname = mail\nquery = SELECT 1\n",
     f"user = mailserver\npassword = {LAB_PASSWORD}\nhosts = 127.0.0.1\ndbname = mail\nquery = SELECT 1\n",
     {"S3cret"}),
    ("dovecot/dovecot-sql.conf.ext",  # PostgreSQL (2.3): the same connect string, pgsql's words
     "driver = pgsql\nconnect = host=pg.example.org port=5433 dbname=postfix user=pfa password=S3cret sslmode=require\n",
     f"driver = pgsql\nconnect = host=127.0.0.1 dbname=postfix user=mailserver password={LAB_PASSWORD} "
     "sslmode=require\n", {"S3cret"}),
    ("dovecot/conf.d/auth-sql.conf.ext",  # PostgreSQL (2.4): pgsql <host> { parameters { ... } }
     "sql_driver = pgsql\npgsql pg.example.org {\n  parameters {\n    port = 5433\n    user = pfa\n"
     "    password = S3cret\n    dbname = postfix\n  }\n}\nuser_query = x\n",
     "sql_driver = pgsql\npgsql 127.0.0.1 {\n  parameters {\n    port = 5432\n    user = mailserver\n"
     f"    password = {LAB_PASSWORD}\n    dbname = postfix\n  }}\n}}\nuser_query = x\n", {"S3cret"}),
    ("postfix/pgsql_virtual_mailbox_maps.cf",  # a pgsql: map has the same words as a mysql: one
     "hosts = pg.example.org\nuser = pfa\npassword = S3cret\ndbname = postfix\nquery = SELECT maildir\n",
     f"hosts = 127.0.0.1\nuser = mailserver\npassword = {LAB_PASSWORD}\ndbname = postfix\nquery = SELECT maildir\n",
     {"S3cret"}),
    ("postfix/virtual", "user@example.org ok\n", "user@example.org ok\n", set()),  # a hash map's source
    ("postfix/main.cf", "hosts = x\n", "hosts = x\n", set()),  # main.cf holds no connect string
]


@pytest.mark.parametrize(("path", "text", "expected", "found"), CONNECT_CASES, ids=[c[0] for c in CONNECT_CASES])
def test_connect_strings_reach_the_labs_mariadb_with_the_labs_password(path, text, expected, found):
    staged = stage({path: text.encode()}, LAB_PASSWORD)
    assert staged.files[path].decode() == expected
    assert staged.secrets == found
    assert not any(secret in line for secret in found for line in staged.changed)


def test_a_configuration_that_names_another_database_than_the_store_is_found_with_file_and_line():
    files = {"dovecot/dovecot-sql.conf.ext": b"connect = host=db dbname=postfix user=u password=p\n",
             "postfix/pgsql_virtual_alias_maps.cf": b"hosts = db\ndbname = postfixadmin\nquery = x\n"}
    staged = stage(files, LAB_PASSWORD)
    assert staged.databases == [("dovecot/dovecot-sql.conf.ext:1", "postfix"), ("postfix/pgsql_virtual_alias_maps.cf:2",
                                                                                 "postfixadmin")]
    assert database_mismatch(staged, "postfix") == ("the store's database is postfix, but "
                                                    "postfix/pgsql_virtual_alias_maps.cf:2 names dbname postfixadmin")
    assert database_mismatch(stage({"postfix/main.cf": b""}, LAB_PASSWORD), "postfix") is None


def test_the_paths_a_configuration_names_are_found_with_file_and_line():
    files = {"dovecot/conf.d/10-ssl.conf": b"ssl = yes\nssl_cert = </etc/ssl/x/cert.pem\nssl_key = </etc/dovecot/private/k\n",
             "dovecot/conf.d/90-sieve.conf": b"plugin {\n  sieve_before = /etc/dovecot/before.sieve\n}\n",
             "dovecot/dovecot.conf": b"log_path = /dev/stderr\ninfo_log_path = /var/log/dovecot/info.log\n",
             "postfix/main.cf": b"smtpd_tls_cert_file = /etc/ssl/mail.pem\n"}
    assert named_paths(files) == [
        NamedPath("cert", "/etc/ssl/x/cert.pem", "dovecot/conf.d/10-ssl.conf:2"),
        NamedPath("key", "/etc/dovecot/private/k", "dovecot/conf.d/10-ssl.conf:3"),
        NamedPath("sieve", "/etc/dovecot/before.sieve", "dovecot/conf.d/90-sieve.conf:2"),
        NamedPath("log", "/var/log/dovecot/info.log", "dovecot/dovecot.conf:2"),
        NamedPath("cert", "/etc/ssl/mail.pem", "postfix/main.cf:1")]


DOVECONF_LACKING = "protocols = imap lmtp\nssl = required\n"
DOVECONF_COMPLETE = ("protocols = imap pop3 lmtp sieve\ndisable_plaintext_auth = no\nauth_allow_cleartext = yes\n"
                     "ssl = yes\nssl_cert = </etc/ssl/mail.pem\nservice doveadm {\n  inet_listener {\n    port = 12345\n  }\n}\n")
# (doveconf -n, series, a live cutover, the additions' first words)
ADDITION_CASES = [
    ("lacking, 2.3", DOVECONF_LACKING, "2.3", False,
     ["doveadm_password", "the doveadm listener", "protocols pop3 sieve", "disable_plaintext_auth", "ssl = yes",
      "the readiness probe's"]),
    ("lacking, 2.4, cutover", "", "2.4", True,
     ["doveadm_password", "the doveadm listener", "protocols sieve", "auth_allow_cleartext", "TLS with the lab's",
      "the readiness probe's"]),
    ("complete, 2.3", DOVECONF_COMPLETE, "2.3", True, ["doveadm_password", "the readiness probe's"]),
]


@pytest.mark.parametrize(("case", "doveconf", "series", "tls", "expected"), ADDITION_CASES,
                         ids=[c[0] for c in ADDITION_CASES])
def test_the_lab_adds_only_what_the_configuration_lacks(case, doveconf, series, tls, expected):
    text, added = lab_additions(doveconf, series, "DoveadmPw", "/etc/dovecot/maillab-probe.passwd", tls)
    assert len(added) == len(expected) and all(line.startswith(word) for line, word in zip(added, expected)), added
    assert "doveadm_password = DoveadmPw" in text
    assert ("inet_listener maillab {" in text) == (series == "2.4" and "port = 12345" not in doveconf)


def test_postfix_gets_the_labs_starttls_only_in_a_cutover_and_where_main_cf_has_no_certificate():
    assert postfix_additions("", tls=False) == ("", [])
    assert postfix_additions("/etc/ssl/mail.pem", tls=True) == ("", [])
    text, [added] = postfix_additions("", tls=True)
    assert text.split("\n") == ["smtpd_tls_cert_file=/etc/letsencrypt/live/mail/fullchain.pem",
                                "smtpd_tls_key_file=/etc/letsencrypt/live/mail/privkey.pem",
                                "smtpd_tls_security_level=may", ""]
    assert added.startswith("Postfix: STARTTLS with the lab's certificate (a live cutover)")


# (server, its output, the problems)
ERROR_CASES = [
    ("dovecot", "doveconf: Fatal: Error in configuration file /etc/dovecot/dovecot.conf line 94: Unknown setting: "
                "mail_locaton\ndoveconf: Error: managesieve-login: dump-capability process returned 89\n",
     [ConfigProblem("dovecot", "dovecot/dovecot.conf", 94, "Unknown setting: mail_locaton")]),
    ("dovecot", "doveconf: Fatal: Error in configuration file /etc/dovecot/conf.d/10-mail.conf line 3: "
                "mail_locaton: Unknown setting: mail_locaton\n",  # 2.4 names the setting first
     [ConfigProblem("dovecot", "dovecot/conf.d/10-mail.conf", 3, "mail_locaton: Unknown setting: mail_locaton")]),
    ("dovecot", "doveconf: Fatal: ssl_cert: Can't open file /x: No such file or directory\n",
     [ConfigProblem("dovecot", "dovecot/", None, "ssl_cert: Can't open file /x: No such file or directory")]),
    ("postfix", "postconf: fatal: /etc/postfix/main.cf, line 15: missing '=' after attribute name: \"bad line\"\n",
     [ConfigProblem("postfix", "postfix/main.cf", 15, "missing '=' after attribute name: \"bad line\"")]),
    ("dovecot", "doveconf: Warning: something\n", []),
]


@pytest.mark.parametrize(("server", "output", "expected"), ERROR_CASES, ids=range(len(ERROR_CASES)))
def test_refusals_are_read_with_file_and_line(server, output, expected):
    assert parse_problems(server, output) == expected


def test_a_refusal_is_shown_under_the_folder():
    assert ConfigProblem("dovecot", "dovecot/dovecot.conf", 7, "Unknown setting: x").one_line("/srv/cfg") == \
        "/srv/cfg/dovecot/dovecot.conf:7: Unknown setting: x (dovecot)"


def _scenario(tmp_path: Path, folder: str = "own") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\ndescription: d\nhosts:\n  old: {{suite: bookworm}}\n  new:\n    suite: bookworm\n    config: {folder}\n"
                    "users: [{address: a@example.org}]\nsteps: [{method: copy_userdb}]\n")
    return path


def test_the_shipped_folder_loads_as_an_absolute_path(tmp_path):
    shutil.copytree(SHIPPED, tmp_path / "own")
    assert load_scenario(_scenario(tmp_path)).hosts["new"].config == str(tmp_path / "own")


def test_the_notes_capture_config_writes_beside_the_configuration_are_left_alone(tmp_path):
    shutil.copytree(SHIPPED, tmp_path / "own")
    for note in CAPTURE_NOTES:
        (tmp_path / "own" / note).write_text("what the server said\n")
    assert not any(note in path for path in config_files(tmp_path / "own") for note in CAPTURE_NOTES)


# (what is done to a copy of the shipped folder, the error's end)
FOLDER_CASES = [
    ("missing", lambda own: shutil.rmtree(own), "own: No such file or directory"),
    ("no dovecot.conf", lambda own: (own / "dovecot/dovecot.conf").unlink(), "no dovecot/dovecot.conf in it (a folder holding dovecot/ and optionally postfix/)"),
    ("no main.cf", lambda own: (own / "postfix/main.cf").unlink(), "no main.cf in it"),
    ("a symbolic link", lambda own: os.symlink("/etc/passwd", own / "dovecot/conf.d/99-x.conf"),
     "99-x.conf: a symbolic link; only regular files are read from a configuration folder"),
    ("a FIFO", lambda own: os.mkfifo(own / "postfix/virtual"),
     "virtual: a FIFO; only regular files are read from a configuration folder"),
    ("something else", lambda own: (own / "sieve").mkdir(), "sieve: a configuration folder holds dovecot/ and postfix/ only (and the notes capture --config "
     "writes: doveconf-n.txt, postconf-n.txt, postconf-M.txt, skipped.txt)"),
]


@pytest.mark.parametrize(("case", "damage", "error"), FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_a_bad_configuration_folder_is_bad_input_naming_the_field(tmp_path, case, damage, error):
    shutil.copytree(SHIPPED, tmp_path / "own")
    damage(tmp_path / "own")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_scenario(tmp_path))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 's.yaml'}:7: hosts.new.config: ") and message.endswith(error), message


def test_validate_without_an_engine_checks_the_rest_and_says_the_configurations_were_not(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from maillab.runner.entry.cli import app

    shutil.copytree(SHIPPED, tmp_path / "own")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    shown = CliRunner().invoke(app, ["validate", str(_scenario(tmp_path))])
    assert shown.exit_code == 0, shown.output
    assert "valid (1 users" in shown.output
    assert "warning: hosts' own configurations not checked with doveconf and postconf (cannot reach the Docker " \
        "engine" in shown.output, shown.output
