"""`capture --config` without a host: what is redacted (a table of lines), what is followed,
and a whole `--from-dir` capture of a Debian-style /etc tree (runner/entry/config_files.py,
runner/entry/capture_config.py)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from maillab.runner.entry.capture_config import MAX_FILE_BYTES
from maillab.runner.entry.cli import app
from maillab.runner.entry.config_files import (
    SECRET, dovecot_references, doveconf_config_path, postfix_references, redact,
)
from maillab.runner.schema.vocabulary import SECRET_PLACEHOLDER

S = SECRET
# (kind of file, a line as the admin wrote it, the line as captured)
REDACTED = [
    # Dovecot 2.3
    ("dovecot", "doveadm_password = s3cret", f"doveadm_password = {S}"),
    ("dovecot", "  doveadm_password = </etc/dovecot/doveadm.pw", f"  doveadm_password = {S}"),
    ("dovecot", "doveadm_password = # hidden, use -P to show it", f"doveadm_password = {S}"),  # doveconf -n
    ("dovecot", "connect = host=127.0.0.1 dbname=mail user=mail password=s3cret",
     f"connect = host=127.0.0.1 dbname=mail user=mail password={S}"),
    ("dovecot", 'connect = "host=db port=5432 password=\'a b\' dbname=mail"',
     f'connect = "host=db port=5432 password={S} dbname=mail"'),
    ("dovecot", "  args = password=s3cret allow_all_users=yes", f"  args = password={S} allow_all_users=yes"),
    ("dovecot", "dnpass = s3cret", f"dnpass = {S}"),
    ("dovecot", "ssl_key_password = s3cret", f"ssl_key_password = {S}"),
    ("dovecot", "ssl_key = </etc/dovecot/private/dovecot.key", "ssl_key = </etc/dovecot/private/dovecot.key"),
    ("dovecot", "ssl_key = -----BEGIN PRIVATE KEY-----", f"ssl_key = {S}"),
    ("dovecot", "auth_policy_hash_nonce = abcdef", f"auth_policy_hash_nonce = {S}"),
    ("dovecot", "  client_secret = s3cret", f"  client_secret = {S}"),
    ("dovecot", "  introspection_url = https://client:s3cret@idp.example.org/introspect",
     f"  introspection_url = https://client:{S}@idp.example.org/introspect"),
    # ...kept as they are
    ("dovecot", "password_query = SELECT email AS user, password FROM virtual_users WHERE email='%u'",
     "password_query = SELECT email AS user, password FROM virtual_users WHERE email='%u'"),
    ("dovecot", "default_pass_scheme = SHA512-CRYPT", "default_pass_scheme = SHA512-CRYPT"),
    ("dovecot", "  pass = yes", "  pass = yes"),
    ("dovecot", "# password = example", "# password = example"),
    ("dovecot", "mail_location = maildir:~/Maildir:LAYOUT=fs", "mail_location = maildir:~/Maildir:LAYOUT=fs"),
    # Dovecot 2.4
    ("dovecot", "  password = s3cret", f"  password = {S}"),
    ("dovecot", "ldap_auth_dn_password = s3cret", f"ldap_auth_dn_password = {S}"),
    ("dovecot", "ssl_server_key_file = /etc/dovecot/private/key.pem", "ssl_server_key_file = /etc/dovecot/private/key.pem"),
    ("dovecot", "  default_password_scheme = ARGON2ID", "  default_password_scheme = ARGON2ID"),
    ("dovecot", "  passwd_file_path = /etc/dovecot/users", "  passwd_file_path = /etc/dovecot/users"),
    # passwd-file, master users; and a passwd-file's lines in a file no reference said was one
    ("passwd-file", "dora@example.org:{SHA512-CRYPT}$6$salt$hash:5000:5000::/var/vmail/dora::",
     f"dora@example.org:{S}:5000:5000::/var/vmail/dora::"),
    ("passwd-file", "migrator:{PLAIN}s3cret", f"migrator:{S}"),
    ("passwd-file", "# user:password", "# user:password"),
    ("passwd-file", "nopass::5000:5000", "nopass::5000:5000"),
    ("dovecot", "admin:$2y$05$abcdefghijklmnopqrstuv", f"admin:{S}"),
    # Postfix maps
    ("postfix-map", "password = s3cret", f"password = {S}"),
    ("postfix-map", "bind_pw = s3cret", f"bind_pw = {S}"),
    ("postfix-map", "hosts = 127.0.0.1", "hosts = 127.0.0.1"),
    ("postfix-map", "query = SELECT password FROM t WHERE email='%s'", "query = SELECT password FROM t WHERE email='%s'"),
    ("sasl-passwords", "[smtp.example.net]:587 user@example.org:s3cret", f"[smtp.example.net]:587 user@example.org:{S}"),
    ("main.cf", "smtp_sasl_password_maps = static:user:s3cret", f"smtp_sasl_password_maps = static:{S}"),
    ("main.cf", "smtp_sasl_password_maps = inline:{ relay.example.net=user:s3cret }",
     f"smtp_sasl_password_maps = inline:{{ relay.example.net={S} }}"),
    ("main.cf", "virtual_mailbox_maps = proxy:mysql:/etc/postfix/mysql-virtual-mailbox-maps.cf",
     "virtual_mailbox_maps = proxy:mysql:/etc/postfix/mysql-virtual-mailbox-maps.cf"),
    ("master.cf", "relay unix - - n - - smtp -o smtp_sasl_password_maps=static:u:s3cret",
     f"relay unix - - n - - smtp -o smtp_sasl_password_maps=static:{S}"),
]


@pytest.mark.parametrize(("kind", "line", "captured"), REDACTED, ids=[f"{k}: {line}" for k, line, _ in REDACTED])
def test_a_line_is_captured_with_its_secrets_replaced(kind, line, captured):
    assert redact(kind, line + "\n") == captured + "\n"
    assert "s3cret" not in redact(kind, line)


def test_the_placeholder_is_one_constant():
    assert SECRET == SECRET_PLACEHOLDER == "@MAILLAB_SECRET@"


DOVECOT_23 = """\
!include conf.d/*.conf
!include_try local.conf
passdb {
  args = /etc/dovecot/dovecot-sql.conf.ext
  driver = sql
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u /etc/dovecot/master-users
  master = yes
}
ssl_cert = </etc/dovecot/private/dovecot.pem
ssl_key = </etc/dovecot/private/dovecot.key
doveadm_password = </etc/dovecot/doveadm.pw
dict {
  quota = mysql:/etc/dovecot/dovecot-dict-sql.conf.ext
}
mail_location = maildir:/var/vmail/%d/%n
sieve_before = /etc/dovecot/sieve/before.sieve
"""
DOVECOT_24 = """\
passdb users {
  driver = passwd-file
  passwd_file_path = /etc/dovecot/users
}
ssl_server_key_file = /etc/ssl/private/mail.key
"""


@pytest.mark.parametrize(("text", "references"), [
    (DOVECOT_23, [("/etc/dovecot/conf.d/*.conf", "dovecot", True), ("/etc/dovecot/local.conf", "dovecot", True),
                  ("/etc/dovecot/dovecot-sql.conf.ext", "dovecot", False),
                  ("/etc/dovecot/master-users", "passwd-file", False),
                  ("/etc/dovecot/private/dovecot.pem", "dovecot", False),
                  ("/etc/dovecot/private/dovecot.key", "private-key", False),
                  ("/etc/dovecot/doveadm.pw", "secret", False),
                  ("/etc/dovecot/dovecot-dict-sql.conf.ext", "dovecot", False),
                  ("/etc/dovecot/sieve/before.sieve", "dovecot", False)]),
    (DOVECOT_24, [("/etc/dovecot/users", "passwd-file", False), ("/etc/ssl/private/mail.key", "private-key", False)]),
], ids=["2.3", "2.4"])
def test_what_a_dovecot_file_names(text, references):
    found = dovecot_references(text, "/etc/dovecot/dovecot.conf")
    assert [(r.path, r.kind, r.include) for r in found] == references


MAIN_CF = """\
virtual_mailbox_domains = proxy:mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf
virtual_alias_maps = mysql:/etc/postfix/mysql-virtual-alias-maps.cf,
    mysql:$config_directory/mysql-email2email.cf
smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd
smtpd_tls_key_file = /etc/postfix/private/key.pem
smtpd_tls_cert_file = /etc/postfix/cert.pem
alias_maps = hash:/etc/aliases
# header_checks = regexp:/etc/postfix/header_checks
"""


def test_what_main_cf_and_master_cf_name():
    assert [(r.path, r.kind) for r in postfix_references(MAIN_CF, "main.cf")] == [
        ("/etc/postfix/mysql-virtual-mailbox-domains.cf", "postfix-map"),
        ("/etc/postfix/mysql-virtual-alias-maps.cf", "postfix-map"),
        ("/etc/postfix/mysql-email2email.cf", "postfix-map"),
        ("/etc/postfix/sasl_passwd", "sasl-passwords"),
        ("/etc/postfix/private/key.pem", "private-key"),
        ("/etc/postfix/cert.pem", "postfix-map"),
        ("/etc/aliases", "postfix-map")]
    master = "submission inet n - y - - smtpd\n  -o smtpd_sender_login_maps=pcre:/etc/postfix/senders\n"
    assert [(r.path, r.by) for r in postfix_references(master, "master.cf")] == [
        ("/etc/postfix/senders", "master.cf:2 smtpd_sender_login_maps")]


def test_doveconf_names_the_file_it_read():
    assert doveconf_config_path("# 2.3.19.1 (9b53102964): /etc/dovecot/dovecot.conf\n# OS: Linux\n") == \
        "/etc/dovecot/dovecot.conf"
    assert doveconf_config_path("protocols = imap\n") is None


# -- a whole capture from a copied /etc ------------------------------------------------------
SECRETS = ["db-s3cret", "doveadm-s3cret", "hash-s3cret", "sasl-s3cret", "KEY-S3CRET"]
TREE = {
    "dovecot/dovecot.conf": "!include conf.d/*.conf\n!include_try local.conf\n!include_try /usr/share/dovecot/protocols.d/*.protocol\n",
    "dovecot/conf.d/10-auth.conf": "auth_mechanisms = plain\n!include auth-sql.conf.ext\n",
    "dovecot/conf.d/auth-sql.conf.ext": "passdb {\n  driver = sql\n  args = /etc/dovecot/dovecot-sql.conf.ext\n}\n"
                                        "passdb {\n  driver = passwd-file\n  args = /etc/dovecot/master-users\n}\n",
    "dovecot/conf.d/10-ssl.conf": "ssl_cert = </etc/dovecot/private/cert.pem\nssl_key = </etc/dovecot/private/key.pem\n"
                                  "ssl_dh = </etc/dovecot/dh.pem\n",
    "dovecot/conf.d/90-doveadm.conf": "doveadm_password = doveadm-s3cret\n",
    "dovecot/dovecot-sql.conf.ext": "driver = mysql\nconnect = host=127.0.0.1 user=mail password=db-s3cret\n",
    "dovecot/master-users": "admin:{SHA512-CRYPT}$6$hash-s3cret\n",
    "dovecot/private/cert.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "dovecot/private/key.pem": "-----BEGIN PRIVATE KEY-----\nKEY-S3CRET\n-----END PRIVATE KEY-----\n",
    "dovecot/conf.d/notincluded.txt": "password = db-s3cret\n",
    "postfix/main.cf": "virtual_mailbox_domains = proxy:mysql:/etc/postfix/mysql-domains.cf\n"
                       "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\n"
                       "header_checks = regexp:/etc/postfix/big\n"
                       "maillog_file = /dev/stdout\n",  # no file of the configuration: not even noted
    "postfix/master.cf": "smtp inet n - y - - smtpd\n",
    "postfix/mysql-domains.cf": "user = mail\npassword = db-s3cret\nhosts = 127.0.0.1\n",
    "postfix/sasl_passwd": "[relay.example.net]:587 me@example.org:sasl-s3cret\n",
    "postfix/big": "x" * (MAX_FILE_BYTES + 1),
}


@pytest.fixture()
def etc(tmp_path):
    """A copy of /etc as `cp -a /etc DIR/etc` makes it, with a symbolic link out of the copy."""
    root = tmp_path / "copy"
    for relative, text in TREE.items():
        path = root / "etc" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "outside.pem").write_text("KEY-S3CRET\n")
    (root / "etc/dovecot/dh.pem").symlink_to(tmp_path / "outside.pem")
    return root


def capture(*args: str):
    return CliRunner().invoke(app, ["capture", "--config", *args])


@pytest.mark.parametrize("layout", ["DIR/etc/dovecot", "DIR/dovecot"])
def test_a_copied_etc_is_captured_without_its_secrets(etc, tmp_path, layout):
    source = etc if layout == "DIR/etc/dovecot" else etc / "etc"
    run = capture("--from-dir", str(source), "--out", str(tmp_path / "out"))
    assert run.exit_code == 0, run.output
    out = tmp_path / "out"
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["dovecot/conf.d/10-auth.conf", "dovecot/conf.d/10-ssl.conf", "dovecot/conf.d/90-doveadm.conf",
                       "dovecot/conf.d/auth-sql.conf.ext", "dovecot/dovecot-sql.conf.ext", "dovecot/dovecot.conf",
                       "dovecot/master-users", "dovecot/private/cert.pem", "postfix/main.cf", "postfix/master.cf",
                       "postfix/mysql-domains.cf", "postfix/sasl_passwd", "skipped.txt"]
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert [secret for secret in SECRETS if secret in everything] == []
    assert (out / "dovecot/dovecot-sql.conf.ext").read_text() == \
        f"driver = mysql\nconnect = host=127.0.0.1 user=mail password={S}\n"
    skipped = (out / "skipped.txt").read_text().splitlines()
    assert sorted(skipped) == sorted([
        "/usr/share/dovecot/protocols.d/*.protocol (dovecot.conf:3 !include_try): outside /etc/dovecot and /etc/postfix",
        "/etc/dovecot/private/key.pem (10-ssl.conf:2 ssl_key): a private key, never copied",
        f"/etc/dovecot/dh.pem (10-ssl.conf:3 ssl_dh): a symbolic link out of {source}",
        f"/etc/postfix/big (main.cf:3 header_checks): {MAX_FILE_BYTES + 1} bytes, more than {MAX_FILE_BYTES}"])
    assert {oct(p.stat().st_mode & 0o777) for p in out.rglob("*")} <= {"0o600", "0o700"}


def test_a_key_named_by_no_key_setting_is_not_copied(etc, tmp_path):
    (etc / "etc/dovecot/conf.d/10-ssl.conf").write_text("ssl_ca = </etc/dovecot/private/key.pem\n")
    run = capture("--from-dir", str(etc), "--out", str(tmp_path / "out"))
    assert run.exit_code == 0, run.output
    assert not (tmp_path / "out/dovecot/private/key.pem").exists()
    assert "/etc/dovecot/private/key.pem (10-ssl.conf:1 ssl_ca): holds a private key, never copied" in \
        (tmp_path / "out/skipped.txt").read_text()


def test_a_fifo_is_not_opened(etc, tmp_path):
    os.remove(etc / "etc/dovecot/master-users")
    os.mkfifo(etc / "etc/dovecot/master-users")
    run = capture("--from-dir", str(etc), "--out", str(tmp_path / "out"))
    assert run.exit_code == 0, run.output
    assert "/etc/dovecot/master-users (auth-sql.conf.ext:7 args): not a regular file" in \
        (tmp_path / "out/skipped.txt").read_text()


# arguments -> the one line of bad input (exit 2)
BAD = [
    (["--from-dir", "{tmp}"], "no Dovecot configuration found in {tmp} (neither {tmp}/etc/dovecot nor {tmp}/dovecot)"),
    (["--from-dir", "{etc}", "old"], "give HOST or --from-dir, not both"),
    (["--from-dir", "{etc}", "--user", "a@example.org"], "--user: for capturing mailboxes, not with --config"),
    (["old:22", "--ssh-port", "2222"], "HOST old:22 and --ssh-port 2222 name two ports"),
    (["old:x"], "HOST old:x: the port is not a number from 1 to 65535"),
    (["127.0.0.1", "--known-hosts", "{tmp}/none"], "--known-hosts {tmp}/none: no such file"),
    ([], "give HOST (or --from-dir DIR)"),
]


@pytest.mark.parametrize(("args", "said"), BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_input_is_exit_2(etc, tmp_path, args, said):
    (tmp_path / "empty").mkdir()
    values = {"tmp": str(tmp_path / "empty"), "etc": str(etc)}
    run = capture(*[arg.format(**values) for arg in args], "--out", str(tmp_path / "out"))
    assert run.exit_code == 2, run.output
    assert said.format(**values) in run.output


def test_the_folder_goes_into_a_new_or_empty_directory(etc, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    run = capture("--from-dir", str(etc), "--out", str(tmp_path / "out"))
    assert run.exit_code == 2 and "give a new or empty directory" in run.output
