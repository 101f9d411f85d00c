"""The admin's own schema in the host's MariaDB (the one the lab's ISPmail tables live in): a
database of the admin's name, their DDL (`mysqldump --no-data`) loaded into it, and SELECT on it
for the mail services' account `mailserver`. Rows go in through pymysql's bound parameters;
copy_userdb moves the database with mysqldump and mysql (the ISPmail guide's way)."""

from __future__ import annotations

import re
import string

from ...runner.schema.stores import UserStoreSpec
from ..command import Command
from ..errors import ConfigRefused, LabError
from . import StoreRows, UserStore, hidden, user_store

TABLE = re.compile(r"[A-Za-z0-9_]+")  # a table name read back is checked before it is quoted
SCHEMA_FILE = "/root/maillab-store-schema.sql"
DUMP_FILE = "/root/maillab-store.sql"
LOAD = 'mysql "$1" < "$2"'


def statement(template: str) -> str:
    """A template as pymysql's statement: each {name} a named parameter %(name)s, a literal %
    doubled (pymysql formats the statement with the escaped values)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal.replace("%", "%%"))
        if name is not None:
            parts.append(f"%({name})s")
    return "".join(parts)


def database_rows(host, database: str) -> StoreRows:
    """Every row of every table of `database`, keyed by its first column, as `database.table`."""
    dump: StoreRows = {}
    with host.db(database) as db, db.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        for (table,) in cursor.fetchall():
            if not TABLE.fullmatch(table):
                raise LabError(f"unexpected table name {table!r} in {database}")
            cursor.execute(f"SELECT * FROM `{table}`")  # noqa: S608  a name from SHOW TABLES, checked above
            columns = [column[0] for column in cursor.description]
            rows = [hidden(host, dict(zip(columns, (_text(cell) for cell in row), strict=True)))
                    for row in cursor.fetchall()]
            dump[f"{database}.{table}"] = {row[columns[0]] or "": row for row in rows}
    return dump


def _text(cell: object) -> str | None:
    """A database value as text (dates as MariaDB writes them), NULL as None."""
    if cell is None:
        return None
    if isinstance(cell, bytes):
        return cell.decode(errors="backslashreplace")
    return str(cell)


@user_store("mariadb")
class MariaDbStore(UserStore):
    # before MariaDB starts: its init file (the entrypoint's) makes the database and lets the
    # mail services' account (the entrypoint's, with the lab's password) read it
    boot_script = """printf 'CREATE DATABASE IF NOT EXISTS `%s`;\\nGRANT SELECT ON `%s`.* TO %s;\\n' "$1" "$1" \\
    "'mailserver'@'127.0.0.1'" >> /run/maillab/db-init.sql"""

    def start(self, host, spec: UserStoreSpec, password: str) -> None:
        with host.db(spec.database) as db, db.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            if cursor.fetchone():
                return  # loaded before this reboot, or the lab's own (ispmail: mailserver)
        with open(spec.schema_file, "rb") as schema:
            host.put_file(SCHEMA_FILE, schema.read(), mode=0o600)
        loaded = host.run(Command.script(LOAD, spec.database, SCHEMA_FILE), keep=None)
        if loaded.exit_code != 0:
            raise ConfigRefused(f"hosts.{host.role}.user_store.schema: {spec.schema_file}: MariaDB refuses it: "
                                f"{loaded.output[-300:]}")

    def write_users(self, host, spec: UserStoreSpec, rows: dict[str, list[dict[str, str]]]) -> None:
        with host.db(spec.database) as db, db.cursor() as cursor:
            for name, values in rows.items():
                if values:
                    cursor.executemany(statement(getattr(spec.templates, name)), values)

    def dump(self, host, spec: UserStoreSpec) -> bytes:
        host.run_checked(Command.of("mysqldump", f"--result-file={DUMP_FILE}", spec.database),
                         f"mysqldump {spec.database}")
        return host.read_file(DUMP_FILE)

    def load(self, host, spec: UserStoreSpec, data: bytes) -> None:
        host.put_file(DUMP_FILE, data, mode=0o600)
        host.run_checked(Command.script(LOAD, spec.database, DUMP_FILE, display=f"mysql {spec.database} < dump"),
                         f"loading {spec.database}")

    def rows(self, host, spec: UserStoreSpec) -> StoreRows:
        return database_rows(host, spec.database)
