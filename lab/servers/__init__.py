"""Real IMAP/POP3 servers other than Dovecot, as old (HostSpec.server): one module per kind
(`courier.py`, `cyrus.py`, `gmail.py`), each registering its class with `@server_kind`. Each runs its
Debian packages under supervisord in an image of its own (dockerfiles/<kind>), makes its users
with its own tools, and is ready when its lab-only user logs in over IMAP. Its mail is seeded
over IMAP as its users' clients would (runner/rehearsal/seed_over_imap.py).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from typing import ClassVar

from ...runner.schema.scenario import HostSpec
from ..command import Command
from ..containers import PROBE_USER, HostSecrets, LabContainer, Served
from ..errors import HostNotReady, LabError
from ..poll import NotYet, poll

KINDS: dict[str, type[ForeignServer]] = {}


def server_kind(kind: str) -> Callable[[type[ForeignServer]], type[ForeignServer]]:
    """Register the decorated class as the lab's machine for `server: <kind>`."""
    def register(cls: type[ForeignServer]) -> type[ForeignServer]:
        cls.KIND = kind
        KINDS[kind] = cls
        return cls
    return register


@functools.cache
def server_classes() -> dict[str, type[ForeignServer]]:
    """Every kind's module of this package, imported on first use."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return KINDS


class ForeignServer(Served, LabContainer):
    """One real server of a kind other than Dovecot. Subclasses say which services the server
    has (SERVICES) and which script of its image makes a user (USER_TOOL)."""

    KIND: ClassVar[str]
    SERVICES: tuple[str, ...] = ("IMAP", "POP3")
    # the image's script that makes (or remakes) one user: ADDRESS as its argument, the password
    # on its stdin (dockerfiles/<kind>)
    USER_TOOL: ClassVar[str]
    PROBE_LOGIN = f"{PROBE_USER}@maillab.invalid"  # its users are addresses
    GUID_ITEM = None
    SSHD = False

    def __init__(self, image: str, *, spec: HostSpec, secrets: HostSecrets, **options) -> None:
        super().__init__(image, **options)
        self.spec = spec
        self.secrets = secrets
        self._published: dict[str, int] = {}
        self.own = None  # the admin's own configuration: Dovecot hosts only
        self.with_envs(**self.environment())
        self._probe_made = False

    def environment(self) -> dict[str, str]:
        """What the image's entrypoint is told (the lab's secrets for the server's own accounts)."""
        return {}

    @property
    def dovecot_series(self) -> str:
        return "none"  # what a script's MAILLAB_OLD_DOVECOT says of a server that is not Dovecot

    def add_user(self, address: str, password: str) -> None:
        # the password reaches the script from the environment through the shell's own printf:
        # no command line holds it
        command = Command.script(f'printf "%s\\n" "$MAILLAB_PASSWORD" | {self.USER_TOOL} "$1"', address,
                                 secrets=[password], display=f"{self.USER_TOOL} {address}")
        self.run_checked(command, f"making the {self.KIND} user {address}", env={"MAILLAB_PASSWORD": password})

    def add_users(self, passwords: dict[str, str]) -> None:
        for address, password in passwords.items():
            self.add_user(address, password)

    def wait_until_ready(self, timeout: float = 90) -> None:
        """Ready when the lab-only user logs in over IMAP (made once the server answers)."""
        def ready() -> None:
            if self.state() != "running":
                raise HostNotReady(f"host '{self.role}' exited during start-up; {self.log_tail()}")
            if not self._probe_made:
                try:
                    self.add_user(self.PROBE_LOGIN, self.secrets.probe)
                except LabError as error:
                    raise NotYet(f"{self.KIND} does not take users yet: {error}") from None
                self._probe_made = True
            with self.imap(self.PROBE_LOGIN, self.secrets.probe):
                pass
        try:
            poll(f"host '{self.role}' ({self.KIND}: IMAP LOGIN)", ready, timeout=timeout, interval=0.2)
        except HostNotReady:
            raise
        except LabError as error:
            raise HostNotReady(f"{error}; {self.log_tail()}") from None

    # what the snapshot asks of every host
    def homes_present(self, addresses: list[str]) -> set[str]:
        return set(addresses)  # every user was made before seeding

    def users_unknown(self, addresses: list[str]) -> set[str]:
        return set()

    def service(self, name: str, action: str) -> None:
        """Stop, start or restart one of the server's programs (supervisord's)."""
        self.run_checked(Command.of("supervisorctl", action, name), f"{action} {name}")
