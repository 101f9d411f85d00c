"""The LDAP user store's pure parts (lab/stores/ldif.py, lab/stores/ldap.py): templates rendered
into LDIF with every value escaped or base64-encoded, LDIF read back, the admin's schema file
split, the iredmail preset; and the admin's LDAP settings pointed at the lab's slapd
(lab/own_config.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from maillab.lab.own_config import stage
from maillab.lab.stores.ldap import bind_dn, config_ldif, split_schema
from maillab.lab.stores.ldif import entries, escape_dn_value, render
from maillab.runner.schema.loader import load_scenario
from maillab.runner.schema.stores import UserStoreSpec

ROOT = Path(__file__).resolve().parents[2]
HASH = "{SHA512-CRYPT}$6$salt$hash"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# (a value as it stands in a DN, RFC 4514 section 2.4)
DN_VALUES = [
    ("ada@example.org", "ada@example.org"),
    ("o'brien+x,y@example.com", "o'brien\\+x\\,y@example.com"),
    ('a"b;c<d>e\\f=g', 'a\\"b\\;c\\<d\\>e\\\\f\\=g'),
    ("#hash", "\\#hash"),
    (" lead", "\\ lead"),
    ("trail ", "trail\\ "),
    ("mid#dle sp", "mid#dle sp"),  # only a leading # or space, only a trailing space
    ("a\\ ", "a\\\\\\ "),  # an escaped backslash before a trailing space
    (" ", "\\ "),
    ("  ", "\\ \\ "),
]


@pytest.mark.parametrize(("value", "escaped"), DN_VALUES, ids=[v for v, _ in DN_VALUES])
def test_a_value_in_a_dn_is_escaped_as_rfc_4514_says(value, escaped):
    assert escape_dn_value(value) == escaped


USER = "dn: mail={address},ou=Users,domainName={domain},o=domains,dc=example,dc=org\nmail: {address}\n"
# (template, values, the LDIF it renders to)
RENDER_CASES = [
    ("plain values stay plain", USER + "userPassword: {password_hash}\nhomeDirectory: {home}\n",
     {"address": "ada@example.org", "domain": "example.org", "password_hash": HASH, "home": "/var/vmail/example.org/ada"},
     "dn: mail=ada@example.org,ou=Users,domainName=example.org,o=domains,dc=example,dc=org\nmail: ada@example.org\n"
     f"userPassword: {HASH}\nhomeDirectory: /var/vmail/example.org/ada\n"),
    ("DN specials escaped in the dn only", USER, {"address": "o'brien+x,y@example.com", "domain": "example.com"},
     "dn: mail=o'brien\\+x\\,y@example.com,ou=Users,domainName=example.com,o=domains,dc=example,dc=org\n"
     "mail: o'brien+x,y@example.com\n"),
    ("not ASCII: base64, in the dn too", "dn: cn={local_part},dc=example,dc=org\ncn: {local_part}\n",
     {"local_part": "zoë"}, f"dn:: {b64('cn=zoë,dc=example,dc=org')}\ncn:: {b64('zoë')}\n"),
    ("a leading colon, <, space; a trailing space; a line break: base64",
     "dn: cn=x\na: {alias}\nb: {home}\nc: {maildir}\nd: {quota}\ne: {address}\n",
     {"alias": ":colon", "home": "<file:///etc/shadow", "maildir": " lead", "quota": "trail ", "address": "two\nlines"},
     f"dn: cn=x\na:: {b64(':colon')}\nb:: {b64('<file:///etc/shadow')}\nc:: {b64(' lead')}\nd:: {b64('trail ')}\n"
     f"e:: {b64('two' + chr(10) + 'lines')}\n"),
    ("a colon inside stays plain", "dn: cn=x\ndescription: {alias}\n", {"alias": "a: b"}, "dn: cn=x\ndescription: a: b\n"),
    ("{{ and }} are literal braces", "dn: cn=x\nuserPassword: {{CRYPT}}{password_hash}\n",
     {"password_hash": "$6$s$h"}, "dn: cn=x\nuserPassword: {CRYPT}$6$s$h\n"),
    ("the template's own base64 and folded lines as written", "dn: cn=x\nobjectClass: top\n  Extra\nd:: YWJj\n",
     {}, "dn: cn=x\nobjectClass: top Extra\nd:: YWJj\n"),
    ("several entries", "dn: cn={domain}\ncn: {domain}\n\n# a comment\ndn: ou=Users,cn={domain}\nou: Users\n",
     {"domain": "example.org"}, "dn: cn=example.org\ncn: example.org\n\ndn: ou=Users,cn=example.org\nou: Users\n"),
]


@pytest.mark.parametrize(("case", "template", "values", "expected"), RENDER_CASES, ids=[c[0] for c in RENDER_CASES])
def test_a_template_renders_into_ldif_whatever_its_values_hold(case, template, values, expected):
    assert render(template, values) == expected


NASTY = ["ada@example.org", "o'brien+x,y@example.com", ":x", "<x", " x", "x ", "a\nb", "zoë", "{SSHA}abc==", "\\", "#"]


@pytest.mark.parametrize("value", NASTY)
def test_a_rendered_value_reads_back_as_itself(value):
    [entry] = entries(render("dn: cn=x,dc=example,dc=org\ndescription: {alias}\n", {"alias": value}))
    assert entry == [("dn", "cn=x,dc=example,dc=org"), ("description", value)]


def test_reading_ldif_unfolds_lines_decodes_base64_and_drops_comments_and_version():
    text = f"version: 1\n\n# first\ndn: cn=a,\n dc=org\ncn: a\ndescription:: {b64('zoë')}\n\n\ndn: cn=b\ncn: b\n"
    assert entries(text) == [[("dn", "cn=a,dc=org"), ("cn", "a"), ("description", "zoë")], [("dn", "cn=b"), ("cn", "b")]]


@pytest.mark.parametrize("text", ["cn: no dn first\n", "dn: cn=x\nnot a line\n", "dn: cn=x\njpegPhoto:< file:///x\n"])
def test_ldif_the_lab_does_not_read_is_refused(text):
    with pytest.raises(ValueError):
        entries(text)


def test_the_iredmail_preset_is_an_ldap_store_whose_templates_fill_its_suffix():
    spec = UserStoreSpec.model_validate({"preset": "iredmail"})
    assert (spec.kind, spec.database) == ("ldap", "dc=example,dc=org")
    schema, config, dit = split_schema(Path(spec.schema_file).read_text())
    assert [entries(e)[0][0][1] for e in schema] == ["cn=iredmail,cn=schema,cn=config"] and config == []
    assert [entries(e)[0][0][1] for e in dit] == ["dc=example,dc=org", "o=domains,dc=example,dc=org"]
    rows = spec.rows([("ada@example.org", HASH, 1000, ["info@example.org"])])
    written = {dn: dict(entry[1:]) for kind, values in rows.items() for row in values
               for entry in entries(render(getattr(spec.templates, kind), row)) for dn in [entry[0][1]]}
    assert all(dn.endswith(",o=domains,dc=example,dc=org") for dn in written)
    user = written["mail=ada@example.org,ou=Users,domainName=example.org,o=domains,dc=example,dc=org"]
    assert (user["userPassword"], user["homeDirectory"], user["mailQuota"]) == (HASH, "/var/vmail/example.org/ada", "1000")
    alias = written["mail=info@example.org,ou=Aliases,domainName=example.org,o=domains,dc=example,dc=org"]
    assert alias["mailForwardingAddress"] == "ada@example.org"


def test_cn_config_has_the_suffix_its_rootdn_and_the_admins_schema_before_the_databases():
    text = config_ldif("dc=example,dc=org", "{SSHA}x", ["dn: cn=mine,cn=schema,cn=config\ncn: mine\n"],
                       ["dn: olcOverlay=memberof,olcDatabase={1}mdb,cn=config\n"])
    dns = [entry[0][1] for entry in entries(text)]
    assert dns == ["cn=config", "cn=module{0},cn=config", "cn=schema,cn=config", "cn=mine,cn=schema,cn=config",
                   "olcDatabase={-1}frontend,cn=config", "olcDatabase={0}config,cn=config",
                   "olcDatabase={1}mdb,cn=config", "olcOverlay=memberof,olcDatabase={1}mdb,cn=config"]
    mdb = dict(entries(text)[6])
    assert (mdb["olcSuffix"], mdb["olcRootDN"], mdb["olcRootPW"]) == ("dc=example,dc=org", bind_dn("dc=example,dc=org"),
                                                                      "{SSHA}x")


def test_ldap_users_has_slapd_with_the_iredmail_preset_on_both_hosts():
    scenario = load_scenario(ROOT / "scenarios/ldap-users.yaml")
    assert {role: (host.own_store.kind, host.own_store.preset) for role, host in scenario.hosts.items()} == {
        "old": ("ldap", "iredmail"), "new": ("ldap", "iredmail")}


# -- the admin's LDAP settings, pointed at the lab's slapd --------------------------------
LAB = "LabDbPw_1"
STORE = UserStoreSpec.model_validate({"preset": "iredmail"})
ADMIN = "cn=admin,dc=example,dc=org"
# (file, its text, what the host gets, the admin's passwords found)
LDAP_CASES = [
    ("dovecot/dovecot-ldap.conf.ext",  # 2.3
     "hosts = ldap1.example.org:389 ldap2.example.org\ndn = cn=vmail,dc=example,dc=org\ndnpass = \"S3cret\"\n"
     "tls = yes\nbase = o=domains,dc=example,dc=org\nuser_filter = (mail=%u)\n",
     f"hosts = 127.0.0.1\ndn = {ADMIN}\ndnpass = {LAB}\ntls = no\nbase = o=domains,dc=example,dc=org\n"
     "user_filter = (mail=%u)\n", {"S3cret"}),
    ("dovecot/dovecot-ldap.conf.ext",  # 2.3 with uris
     "uris = ldaps://ldap.example.org\nbase = dc=example,dc=org\n",
     "uris = ldap://127.0.0.1\nbase = dc=example,dc=org\n", set()),
    ("dovecot/conf.d/auth-ldap.conf.ext",  # 2.4
     "ldap_uris = ldap://ldap.example.org\nldap_auth_dn = cn=vmail,dc=example,dc=org\n"
     "ldap_auth_dn_password = S3cret\nldap_starttls = yes\nldap_base = o=domains,dc=example,dc=org\n"
     "passdb ldap {\n  filter = (mail=%{user})\n}\n",
     f"ldap_uris = ldap://127.0.0.1\nldap_auth_dn = {ADMIN}\nldap_auth_dn_password = {LAB}\nldap_starttls = no\n"
     "ldap_base = o=domains,dc=example,dc=org\npassdb ldap {\n  filter = (mail=%{user})\n}\n", {"S3cret"}),
    ("postfix/ldap-virtual_mailbox_maps.cf",
     "server_host = ldap.example.org\nserver_port = 636\nbind_dn = cn=vmail,dc=example,dc=org\nbind_pw = S3cret\n"
     "start_tls = yes\nsearch_base = o=domains,dc=example,dc=org\nquery_filter = (mail=%s)\n",
     f"server_host = ldap://127.0.0.1\nserver_port = 389\nbind_dn = {ADMIN}\nbind_pw = {LAB}\nstart_tls = no\n"
     "search_base = o=domains,dc=example,dc=org\nquery_filter = (mail=%s)\n", {"S3cret"}),
    ("postfix/virtual", "hosts = x\nbind_pw = y\n", "hosts = x\nbind_pw = y\n", set()),  # no search_base: no ldap: map
    ("dovecot/conf.d/10-mail.conf", "mail_location = maildir:~/Maildir\n", "mail_location = maildir:~/Maildir\n", set()),
]


@pytest.mark.parametrize(("path", "text", "expected", "found"), LDAP_CASES, ids=[c[0] for c in LDAP_CASES])
def test_ldap_settings_reach_the_labs_slapd_with_the_labs_password(path, text, expected, found):
    staged = stage({path: text.encode()}, LAB, STORE)
    assert staged.files[path].decode() == expected
    assert staged.secrets == found
    assert not any(secret in line for secret in found | {LAB} for line in staged.changed)


def test_ldap_settings_stay_as_written_without_an_ldap_store():
    text = "hosts = ldap.example.org\ndnpass = S3cret\nbase = dc=example,dc=org\n"
    assert stage({"dovecot/dovecot-ldap.conf.ext": text.encode()}, LAB).files["dovecot/dovecot-ldap.conf.ext"] == text.encode()


def test_a_search_base_outside_the_stores_suffix_is_said():
    staged = stage({"dovecot/dovecot-ldap.conf.ext": b"hosts = h\nbase = o=domains,dc=example,dc=com\n",
                    "postfix/ldap-maps.cf": b"search_base = o=domains, dc=Example, dc=ORG\n"}, LAB, STORE)
    outside = [line for line in staged.changed if "is not under" in line]
    assert outside == ["dovecot/dovecot-ldap.conf.ext:2: base o=domains,dc=example,dc=com is not under the store's "
                       "suffix dc=example,dc=org: the lab's slapd holds nothing there"]
