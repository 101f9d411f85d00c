"""Faults a scenario injects into its migration, and how the run resumes after one, as data.

A fault says when it strikes (during step N: after T seconds, or once K messages have
arrived on new) and what happens then; it runs nothing. Its injector lives in
`runner/rehearsal/inject.py`, registered against the spec there. Real migrations are interrupted: an
ssh session drops, the new server reboots, the disk fills, a user is over quota. Whether
running the procedure again converges is what an admin needs to know before the night of the
migration (isync's test suite interrupts its sync at every step in the same spirit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .steps import StepSpec
from .vocabulary import Address, Role, Service

if TYPE_CHECKING:
    from .scenario import Scenario


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class When(_Model):
    """During step `step` (1 = the first step): `seconds` after it started (0: just before its
    first command), or once `messages` messages have arrived on new (Maildir files in cur/ and
    new/, watched live)."""

    step: int = Field(ge=1)
    seconds: float = Field(0, ge=0, le=86400)
    messages: int | None = Field(None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _one_trigger(self) -> When:
        if self.messages is not None and self.seconds:
            raise ValueError("give either seconds or messages, not both")
        return self

    def describe(self) -> str:
        if self.messages is not None:
            return f"once {self.messages} messages are on new, during step {self.step}"
        return f"{self.seconds:g} s into step {self.step}" if self.seconds else f"as step {self.step} starts"


class Fault(_Model):
    """What every fault has. Subclasses set `what` to a Literal tag."""

    when: When

    def problem_with(self, scenario: Scenario) -> str | None:
        """A reason this fault cannot strike in `scenario`, or None."""
        return None

    def describe(self) -> str:
        raise NotImplementedError


class Kill(Fault):
    """SIGKILL the migration's process and everything it started (its process group: the
    doveadm, rsync, mbsync or the user's script the step runs), as when the admin's ssh
    session to the server dies."""

    what: Literal["kill"]

    def describe(self) -> str:
        return "kill -KILL the step's command"


class NetworkCut(Fault):
    """Old is cut off the lab network for `seconds` (its cable pulled: disconnected from the
    network, then connected again), so new and the migrator cannot reach it."""

    what: Literal["network_cut"]
    seconds: float = Field(5, gt=0, le=3600)
    host: Role = "old"

    def describe(self) -> str:
        return f"cut {self.host} off the network for {self.seconds:g} s"


class Restart(Fault):
    """Restart one service of a host, or (no `service`) the whole host container: a reboot.
    A reboot keeps what is on disk, so the host's mail must be on disk (mail_store: disk)."""

    what: Literal["restart"]
    host: Role = "new"
    service: Service | None = None

    def problem_with(self, scenario: Scenario) -> str | None:
        if self.service is None and scenario.hosts[self.host].mail_store != "disk":
            return (f"a reboot of {self.host} would wipe its mail kept in memory: "
                    f"set hosts.{self.host}.mail_store: disk")
        return None

    def describe(self) -> str:
        return f"restart {self.service} on {self.host}" if self.service else f"reboot {self.host}"


class DiskFull(Fault):
    """New's mail storage runs full: a file fills it up to `free` bytes left. The run frees
    the space again before it resumes (the admin clears the disk, then reruns)."""

    what: Literal["disk_full"]
    free: int = Field(0, ge=0, le=2**30)

    def problem_with(self, scenario: Scenario) -> str | None:
        if scenario.hosts["new"].mail_store == "disk":  # no size of its own: the engine's filesystem would fill
            return ("disk_full needs new's mail store in memory (a tmpfs of mail_store_mb); with mail_store: disk "
                    "it would fill the Docker engine's own filesystem")
        if scenario.hosts["new"].mail_store_mb > DISK_FULL_STORE_MB:
            return (f"disk_full fills new's mail store: make it small (hosts.new.mail_store_mb at most "
                    f"{DISK_FULL_STORE_MB})")
        return None

    def describe(self) -> str:
        return f"fill new's mail storage ({self.free} bytes left)"


class Quota(Fault):
    """A user's quota on new (ISPmail's virtual_users.quota, enforced by Dovecot's quota
    plugin) is set below what their mailbox holds."""

    what: Literal["quota"]
    user: Address
    bytes: int = Field(ge=1, le=2**62)

    def problem_with(self, scenario: Scenario) -> str | None:
        if self.user not in {user.address for user in scenario.users}:
            return f"user {self.user} is not in the scenario"
        new = scenario.hosts["new"]
        if new.user_store != "sql" or new.suite == "trixie":
            return "quota is ISPmail's quota column, enforced by Dovecot 2.3's quota plugin: new needs " \
                   "user_store: sql and suite bullseye or bookworm"
        return None

    def describe(self) -> str:
        return f"quota of {self.user} on new set to {self.bytes} bytes"


class CrashOld(Fault):
    """Old's Dovecot dies (SIGKILL of its master and every child) and comes back: supervisord
    restarts it, as systemd would."""

    what: Literal["crash_old"]

    def describe(self) -> str:
        return "old's Dovecot killed (it comes back)"


# what interrupts the migration in an interrupt sweep (runner/rehearsal/sweep.py)
SweepFault = Literal["kill", "network_cut"]
# fill new's mail store only when it is small: a tmpfs filled up is memory taken
DISK_FULL_STORE_MB = 1024
FAULT_TYPES = (Kill, NetworkCut, Restart, DiskFull, Quota, CrashOld)
FAULTS: tuple[str, ...] = tuple(get_args(spec.model_fields["what"].annotation)[0] for spec in FAULT_TYPES)
FaultSpec = Annotated[Union[FAULT_TYPES], Field(discriminator="what")]  # noqa: UP007


class Resume(_Model):
    """After a step failed under a fault: run `recovery` (the admin's own steps, e.g. a
    script), then the failed step and every step after it again, at most `tries` times."""

    tries: int = Field(2, ge=0, le=10)
    recovery: list[StepSpec] = []
