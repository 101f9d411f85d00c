"""The admin's own user store (docs/own-server.md, "Own user store"): which service keeps the
users (MariaDB, PostgreSQL, OpenLDAP), the admin's schema, and the templates the scenario's
users are written into it with; or a shipped preset that says all of it.

Pure data: a preset is a YAML file (with its schema file) under presets/, read here. The lab's
side, one module per kind, is lab/stores/.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from ruamel.yaml import YAML

from .vocabulary import SourcePath, checked_str, shaped

PRESETS_DIR = Path(__file__).parent / "presets"
StoreKind = Literal["mariadb", "postgresql", "ldap"]
SQL_KINDS = ("mariadb", "postgresql")
Preset = Literal["postfixadmin", "vimbadmin", "ispmail", "iredmail"]
# What a template may name, per template; every value reaches SQL as a bound parameter (or a psql
# variable), LDAP as an attribute value, never as text of the template.
USER_PLACEHOLDERS = ("address", "local_part", "domain", "password_hash", "home", "maildir", "quota")
PLACEHOLDERS = {"domain": ("domain",), "user": USER_PLACEHOLDERS, "alias": (*USER_PLACEHOLDERS, "alias")}
# what the home and maildir formats may name (values the lab derives from the address)
PATH_PLACEHOLDERS = ("address", "local_part", "domain")
TEMPLATE_MAX = 10_000


def placeholders(template: str) -> list[str]:
    """The placeholders `template` names, in order ({{ and }} are a literal brace); ValueError
    for a brace that opens no placeholder, a format spec or a conversion."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion or not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                             "is not a placeholder (write {{ and }} for a literal brace)")
        names.append(name)
    return names


def _check_names(template: str, allowed: tuple[str, ...], what: str) -> None:
    try:
        names = placeholders(template)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    if unknown := [name for name in names if name not in allowed]:
        raise ValueError(f"{what}: unknown placeholder {{{unknown[0]}}} (known: "
                         f"{', '.join('{' + name + '}' for name in allowed)})")


def _template(kind: str):
    def check(value: str) -> None:
        _check_names(value, PLACEHOLDERS[kind], f"the {kind} template")
    return checked_str(check, Field(min_length=1, max_length=TEMPLATE_MAX))


def _path_format(value: str) -> None:
    shaped(r"[^\x00-\x1f\x7f]{1,1024}", "a path format")(value)
    _check_names(value, PATH_PLACEHOLDERS, "the format")


PathFormat = checked_str(_path_format)
# SQL: the database's name (the admin's, as their configuration names it); LDAP: the suffix
Database = checked_str(shaped(r"[^\x00-\x1f\x7f]{1,255}", "a database name or an LDAP suffix"))
SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class StoreTemplates(BaseModel):
    """SQL: one statement each (INSERT ...); LDAP: one LDIF entry each. `user` is written once per
    user, `domain` once per domain (users' and aliases'), `alias` once per alias, where {domain}
    is the alias's domain and the other placeholders are those of the user it leads to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: _template("domain") | None = None
    user: _template("user")
    alias: _template("alias") | None = None


class UserStoreSpec(BaseModel):
    """hosts.<role>.user_store as a mapping: the admin's own store (a preset fills what it
    does not give; what it gives wins, except a kind that differs from the preset's)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    preset: Preset | None = None
    kind: StoreKind
    # relative to the scenario (the loader makes it absolute once it is a readable file); SQL:
    # DDL (mysqldump --no-data, pg_dump -s); ldap: LDIF (schema and base DIT)
    schema_file: SourcePath = Field(alias="schema")
    database: Database
    templates: StoreTemplates
    # the values of {home} and {maildir}
    home: PathFormat = "/var/vmail/{domain}/{local_part}"
    maildir: PathFormat = "{domain}/{local_part}/"

    @model_validator(mode="before")
    @classmethod
    def _preset_fills(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("preset") not in get_args(Preset):
            return data  # no preset, or one the field refuses
        preset = read_preset(data["preset"])
        if "kind" in data and data["kind"] != preset["kind"]:
            raise ValueError(f"preset {data['preset']} is a {preset['kind']} store; kind says {data['kind']}")
        return preset | data

    @model_validator(mode="after")
    def _database_fits_kind(self) -> UserStoreSpec:
        if self.kind in SQL_KINDS and not SQL_NAME.fullmatch(self.database):
            raise ValueError(f"database {self.database!r} is not a {self.kind} database name "
                             "(letters, digits, _; at most 64)")
        return self

    def values(self, address: str, password_hash: str, quota: int) -> dict[str, str]:
        """A user's placeholder values."""
        local_part, domain = address.split("@", 1)
        names = {"address": address, "local_part": local_part, "domain": domain}
        return {**names, "password_hash": password_hash, "quota": str(quota),
                "home": self.home.format(**names), "maildir": self.maildir.format(**names)}

    def rows(self, users: list[tuple[str, str, int, list[str]]]) -> dict[str, list[dict[str, str]]]:
        """The rows to write for `users` (address, password hash, quota in bytes, aliases): per
        template the placeholder values of each row; domains once each, sorted."""
        rows: dict[str, list[dict[str, str]]] = {"domain": [], "user": [], "alias": []}
        domains = set()
        for address, password_hash, quota, aliases in users:
            user = self.values(address, password_hash, quota)
            rows["user"].append(user)
            domains.add(user["domain"])
            for alias in aliases:
                rows["alias"].append(user | {"alias": alias, "domain": alias.split("@", 1)[1]})
                domains.add(alias.split("@", 1)[1])
        rows["domain"] = [{"domain": domain} for domain in sorted(domains)]
        return {name: found for name, found in rows.items() if getattr(self.templates, name) is not None}


def read_preset(name: str) -> dict[str, Any]:
    """A preset's fields as its YAML file under presets/ gives them, its schema file made absolute."""
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"preset {name} is not shipped in this maillab ({path.name} is missing)")
    preset = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return preset | {"schema": str(PRESETS_DIR / preset["schema"])}
