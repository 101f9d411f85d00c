"""The admin's own schema in PostgreSQL (Debian's `postgresql`, installed in the mail host images,
its cluster started by the lab before the services of a host whose scenario names it): a
database of the admin's name, their DDL (`pg_dump -s`) loaded into it, and a login role
`mailserver` (the lab's database password) with SELECT on it, at 127.0.0.1:5432 on the host. psql does all of it as
the postgres superuser on the host; values reach SQL only as psql variables (`-v name=value`,
written `:'name'` in the statement), never as its text. copy_userdb moves the database with
pg_dump and psql."""

from __future__ import annotations

import json
import string

from ...runner.schema.stores import UserStoreSpec
from ..command import Command
from ..errors import ConfigRefused, LabError
from ..poll import NotYet, poll
from . import StoreRows, UserStore, hidden, user_store

SCHEMA_FILE = "/tmp/maillab-store-schema.sql"  # read by psql as postgres
DUMP_FILE = "/tmp/maillab-store.sql"
ROWS_PER_CALL = 200  # users' rows per psql: each row's values are arguments
# Before the services start: Debian's first cluster, whatever its version (pg_lsclusters: "15
# main 5432 down ..."), started unless it runs (status: 0 running, 3 down); then the role
# mailserver with the lab's password and the database $1, empty, unless they are there.
BOOT = """db=$1
set -- $(pg_lsclusters -h | head -n 1)
[ $# -ge 2 ] || { echo "no PostgreSQL cluster" >&2; exit 1; }
pg_ctlcluster "$1" "$2" status >/dev/null 2>&1 || pg_ctlcluster "$1" "$2" start || exit
printf '%s\\n' "SELECT 'CREATE ROLE mailserver LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mailserver')" \\
    '\\gexec' "ALTER ROLE mailserver PASSWORD :'password';" \\
    "SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')" \\
    '\\gexec' "GRANT CONNECT ON DATABASE :\\"db\\" TO mailserver;" |
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v db="$db" -v password="$MAILLAB_DB_PASSWORD" -d postgres -f -"""
# psql as postgres on database $1 with the statements $2 on its stdin and each further
# argument name=value as a variable (-v): no value is ever part of the shell's text or the SQL's
PSQL = """db=$1 sql=$2
shift 2
count=$#
for assignment; do set -- "$@" -v "$assignment"; done
shift "$count"
printf '%s\\n' "$sql" | exec runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@" -f -"""


def psql(host, database: str, sql: str, variables: dict[str, str] | None = None, what: str = "",
         secrets: tuple[str, ...] = ()) -> str:
    """What psql prints for `sql` on `database` (unaligned, tuples only); a failure is the lab's."""
    assignments = [f"{name}={value}" for name, value in (variables or {}).items()]
    command = Command.script(PSQL, database, sql, *assignments, secrets=secrets,
                             display=f"psql -d {database} ({what or 'statements'})")
    return host.run_checked(command, what or f"psql on {database}").stdout


def statement(template: str, prefix: str) -> str:
    """A template with each {name} as the psql variable :'<prefix>name' (a quoted literal)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(f":'{prefix}{name}'")
    return "".join(parts)


@user_store("postgresql")
class PostgreSqlStore(UserStore):
    boot_script = BOOT

    def start(self, host, spec: UserStoreSpec, password: str) -> None:
        def answers() -> None:
            if host.run(Command.of("pg_isready", "-q", "-h", "127.0.0.1")).exit_code != 0:
                raise NotYet("PostgreSQL does not accept connections yet")
        poll(f"PostgreSQL on '{host.role}'", answers, timeout=30, interval=0.2)
        if psql(host, spec.database, "SELECT 1 FROM pg_tables WHERE schemaname = 'public' LIMIT 1;",
                what="looking for the schema").strip():
            return  # loaded before this reboot
        with open(spec.schema_file, "rb") as schema:
            host.put_file(SCHEMA_FILE, schema.read(), mode=0o644)
        loaded = host.run(Command.of("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                     "-d", spec.database, "-f", SCHEMA_FILE), keep=None)
        if loaded.exit_code != 0:
            raise ConfigRefused(f"hosts.{host.role}.user_store.schema: {spec.schema_file}: PostgreSQL refuses it: "
                                f"{loaded.output[-300:]}")
        psql(host, spec.database, "GRANT USAGE ON SCHEMA public TO mailserver;\n"
             "GRANT SELECT ON ALL TABLES IN SCHEMA public TO mailserver;", what="letting the mail services read it")

    def write_users(self, host, spec: UserStoreSpec, rows: dict[str, list[dict[str, str]]]) -> None:
        pending = [(name, values) for name, found in rows.items() for values in found]
        for start in range(0, len(pending), ROWS_PER_CALL):
            statements, variables = ["BEGIN;"], {}
            for number, (name, values) in enumerate(pending[start:start + ROWS_PER_CALL]):
                prefix = f"r{number}_"
                statements.append(statement(getattr(spec.templates, name), prefix).rstrip().rstrip(";") + ";")
                variables.update({prefix + key: value for key, value in values.items()})
            statements.append("COMMIT;")
            psql(host, spec.database, "\n".join(statements), variables, f"writing {len(statements) - 2} rows")

    def dump(self, host, spec: UserStoreSpec) -> bytes:
        host.run_checked(Command.of("runuser", "-u", "postgres", "--", "pg_dump", "--clean", "--if-exists",
                                    "-f", DUMP_FILE, spec.database), f"pg_dump {spec.database}")
        return host.read_file(DUMP_FILE)

    def load(self, host, spec: UserStoreSpec, data: bytes) -> None:
        host.put_file(DUMP_FILE, data, mode=0o644)
        host.run_checked(Command.of("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                    "-d", spec.database, "-f", DUMP_FILE), f"psql {spec.database} < dump")

    def rows(self, host, spec: UserStoreSpec) -> StoreRows:
        tables = psql(host, spec.database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                      "ORDER BY tablename;", what="listing the tables").split()
        dump: StoreRows = {}
        for table in tables:
            text = psql(host, spec.database, "SELECT coalesce(json_agg(t), '[]') FROM :\"t\" t;", {"t": table},
                        f"reading {table}")
            try:
                rows = json.loads(text)
            except ValueError:
                raise LabError(f"psql's rows of {table} are not JSON: {text[:200]!r}") from None
            rows = [hidden(host, {column: None if value is None else str(value) for column, value in row.items()})
                    for row in rows]
            dump[f"{spec.database}.{table}"] = {next(iter(row.values())) or "": row for row in rows}
        return dump
