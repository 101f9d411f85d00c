"""The admin's own user store, its pure parts: the presets (runner/schema/presets/), the rows the
templates are written with, and the templates as each kind's statements (lab/stores)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from maillab.lab.stores import stores
from maillab.lab.stores.mariadb import statement as mariadb_statement
from maillab.lab.stores.postgresql import statement as psql_statement
from maillab.runner.rehearsal.seed import USER_INSERTS
from maillab.runner.schema.stores import PRESETS_DIR, SQL_KINDS, Preset, UserStoreSpec

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))

# preset -> (kind, database, the tables its user template and its alias template write)
PRESETS = {
    "postfixadmin": ("mariadb", "postfix", "mailbox", "alias"),
    "vimbadmin": ("mariadb", "vimbadmin", "mailbox", "alias"),
    "ispmail": ("mariadb", "mailserver", "virtual_users", "virtual_aliases"),
}


def test_every_shipped_preset_is_a_preset_name_and_has_a_row():
    assert set(SHIPPED) <= set(get_args(Preset))
    assert {name for name in SHIPPED if UserStoreSpec(preset=name).kind in SQL_KINDS} == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_fills_kind_schema_database_and_templates_whose_tables_its_schema_makes(name):
    kind, database, users, aliases = PRESETS[name]
    store = UserStoreSpec(preset=name)
    assert (store.kind, store.database) == (kind, database)
    schema = Path(store.schema_file).read_text()
    for template, table in (("user", users), ("alias", aliases)):
        written = re.match(r"INSERT (?:IGNORE )?INTO (\w+)", getattr(store.templates, template))
        assert written and written.group(1) == table
        assert re.search(rf"CREATE TABLE (?:IF NOT EXISTS )?`?{table}`? \(", schema), (name, table)


def test_a_presets_field_given_in_the_scenario_wins_over_the_presets():
    store = UserStoreSpec.model_validate({"preset": "postfixadmin", "database": "postfixadmin"})
    assert (store.kind, store.database) == ("mariadb", "postfixadmin")
    assert "mailbox" in store.templates.user


def test_the_ispmail_preset_is_todays_store_its_statements_those_seeding_writes():
    """user_store: sql writes ISPmail's tables with USER_INSERTS (positional, user_rows' order):
    the preset's templates are the same statements, with the same values in the same places."""
    store = UserStoreSpec(preset="ispmail")
    orders = (["domain"], ["address", "password_hash", "quota", "domain"], ["alias", "address", "domain"])
    for name, insert, order in zip(("domain", "user", "alias"), USER_INSERTS, orders, strict=True):
        named = mariadb_statement(getattr(store.templates, name))
        assert re.findall(r"%\((\w+)\)s", named) == order
        assert re.sub(r"%\(\w+\)s", "%s", named) == insert
    assert Path(store.schema_file).resolve() == ROOT / "dockerfiles/mailhost/mailserver-schema.sql"


def test_rows_hold_each_users_values_and_each_domain_once():
    store = UserStoreSpec(preset="postfixadmin")
    rows = store.rows([("ada@example.org", "{SHA512-CRYPT}$6$x", 1000, ["info@example.net"]),
                       ("ben@example.org", "$1$y", 0, [])])
    assert rows["domain"] == [{"domain": "example.net"}, {"domain": "example.org"}]
    assert rows["user"][1] == {"address": "ben@example.org", "local_part": "ben", "domain": "example.org",
                               "password_hash": "$1$y", "quota": "0", "home": "/var/vmail/example.org/ben",
                               "maildir": "example.org/ben/"}
    # an alias row: the alias and its own domain, the rest of the user it leads to
    assert rows["alias"] == [rows["user"][0] | {"alias": "info@example.net", "domain": "example.net"}]


def test_a_store_without_a_domain_template_writes_no_domain_rows():
    store = UserStoreSpec.model_validate({"kind": "postgresql", "schema": "s.sql", "database": "mail",
                                          "templates": {"user": "INSERT INTO u VALUES ({address})"}})
    assert set(store.rows([("a@example.org", "h", 0, ["b@example.org"])])) == {"user"}


# (template, MariaDB's statement for pymysql's named parameters, psql's with variables of row 3)
STATEMENTS = [
    ("INSERT INTO t (a, q) VALUES ({address}, {quota})", "INSERT INTO t (a, q) VALUES (%(address)s, %(quota)s)",
     "INSERT INTO t (a, q) VALUES (:'r3_address', :'r3_quota')"),
    # a literal % is doubled for pymysql; {{ }} are literal braces; psql leaves :: casts alone
    ("INSERT INTO t VALUES (CONCAT('{{SHA512-CRYPT}}', {password_hash}), '100%', '0'::bigint)",
     "INSERT INTO t VALUES (CONCAT('{SHA512-CRYPT}', %(password_hash)s), '100%%', '0'::bigint)",
     "INSERT INTO t VALUES (CONCAT('{SHA512-CRYPT}', :'r3_password_hash'), '100%', '0'::bigint)"),
]


@pytest.mark.parametrize(("template", "mariadb", "postgresql"), STATEMENTS)
def test_a_template_becomes_a_statement_whose_values_are_parameters(template, mariadb, postgresql):
    assert mariadb_statement(template) == mariadb
    assert psql_statement(template, "r3_") == postgresql


def test_every_sql_kind_has_a_store():
    assert set(SQL_KINDS) <= set(stores())
