"""The migration methods, registered in one table. Adding a method means one new module and
one entry here; the scenario schema accepts `method: <name>` for every entry."""

from typing import Annotated, Union

from pydantic import Field

from runner.migrate.copy_userdb import CopyUserDb
from runner.migrate.cutover import ChangeFlags, SendMail, Service
from runner.migrate.doveadm_backup import DoveadmBackup
from runner.migrate.mbsync import Mbsync
from runner.migrate.ssh_root_key import SshRootKey

METHODS = {
    "copy_userdb": CopyUserDb,
    "doveadm_backup": DoveadmBackup,
    "mbsync": Mbsync,
    "ssh_root_key": SshRootKey,
    "send_mail": SendMail,
    "change_flags": ChangeFlags,
    "service": Service,
}

StepSpec = Annotated[Union[tuple(METHODS.values())], Field(discriminator="method")]  # noqa: UP007
