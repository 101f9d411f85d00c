"""The admin's own user stores on a lab host (docs/own-server.md, "Own user store"): one module
per kind (`mariadb.py`, `postgresql.py`, `ldap.py`), each registering its class with
`@user_store("<kind>")` next to its code; the registry is derived from the modules, as
runner/methods derives its executors.

A store runs on the mail host itself (as the lab's MariaDB does), reachable at 127.0.0.1 there,
with the account the mail services use (SQL: `mailserver`, read-only, the lab's database
password), and holds the admin's schema. Every method takes the host (its `run`, `put_file`,
`read_file`) and the host's UserStoreSpec.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib
import pkgutil
from collections.abc import Callable
from typing import Protocol

from ...runner.schema.stores import UserStoreSpec

# what `rows` returns: table (or LDAP branch) -> key -> row (column -> value)
StoreRows = dict[str, dict[str, dict[str, str | None]]]


class UserStore(Protocol):
    # Shell text the host runs before its services start, at every boot (lab/own_config.py START),
    # with the store's database (LDAP: the suffix) as $1 and the lab's database password in
    # $MAILLAB_DB_PASSWORD: it starts a service that runs outside supervisord (PostgreSQL, slapd)
    # and makes the database and the mail services' account, empty, so Dovecot's first queries
    # reach them. Measured: Dovecot 2.3's auth process dies (signal 11) when its pgsql database
    # refuses the connection at start-up, and its mysql driver waits 125 s before it asks again a
    # database that denied it.
    boot_script: str = ""

    def start(self, host, spec: UserStoreSpec, password: str) -> None:
        """Once the host is ready: load the admin's schema into the (empty) database and let the
        mail services' account (`password`) read it; nothing when the schema is there (a reboot)."""

    def write_users(self, host, spec: UserStoreSpec, rows: dict[str, list[dict[str, str]]]) -> None:
        """Write the rows (per template name: each row's placeholder values, UserStoreSpec.rows)
        with the spec's templates; values never become text of a statement."""

    def dump(self, host, spec: UserStoreSpec) -> bytes:
        """The store's content as the admin's own tool writes it (copy_userdb's export)."""

    def load(self, host, spec: UserStoreSpec, data: bytes) -> None:
        """Replace the store's content on `host` by `data` from `dump` (copy_userdb's import)."""

    def rows(self, host, spec: UserStoreSpec) -> StoreRows:
        """Every row (entry), for the snapshot's user_db; password hashes as `mask` gives them."""


# A user's password hash never leaves the host (snapshots are written into the report): its
# column holds a digest keyed with the lab's doveadm secret instead, the same on every host of
# the lab and in a kept lab's later runs, so a changed hash still shows as a changed value.
PASSWORD_COLUMN = "password"


def hidden(host, row: dict[str, str | None], column: str = PASSWORD_COLUMN) -> dict[str, str | None]:
    """The row with its password `column` (if any) as a keyed digest of the hash."""
    if row.get(column) is None:
        return row
    digest = hmac.new(host.secrets.doveadm.encode(), row[column].encode(), hashlib.sha256).hexdigest()
    return row | {column: f"hmac-sha256:{digest[:32]}"}


STORES: dict[str, type] = {}


def user_store(kind: str) -> Callable[[type], type]:
    """Register the decorated class as the store of `kind` (UserStoreSpec.kind); the class
    subclasses UserStore (it inherits boot_script's default)."""
    def register(cls: type) -> type:
        STORES[kind] = cls
        return cls
    return register


@functools.cache
def stores() -> dict[str, type]:
    """Every store module of this package, imported on first use."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return STORES


def store_of(spec: UserStoreSpec) -> UserStore:
    """The store that keeps a host's users of `spec.kind`."""
    return stores()[spec.kind]()
