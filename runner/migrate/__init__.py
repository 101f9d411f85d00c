"""The migration methods, registered in one table. Adding a method means one new module and
one entry here; the scenario schema accepts `method: <name>` for every entry."""

from typing import Annotated, Union

from pydantic import Field

from runner.migrate.copy_userdb import CopyUserDb
from runner.migrate.cutover import ChangeFlags, SendMail, Service
from runner.migrate.doveadm_backup import DoveadmBackup
from runner.migrate.imapc import Imapc
from runner.migrate.imapsync import Imapsync
from runner.migrate.mbsync import Mbsync
from runner.migrate.mysqldump import Mysqldump, Sql
from runner.migrate.rsync_vmail import ForceResync, Rsync
from runner.migrate.script import Script
from runner.migrate.ssh_root_key import SshRootKey

METHODS = {
    "copy_userdb": CopyUserDb,
    "doveadm_backup": DoveadmBackup,
    "imapc": Imapc,
    "mbsync": Mbsync,
    "imapsync": Imapsync,
    "mysqldump": Mysqldump,
    "sql": Sql,
    "rsync": Rsync,
    "force_resync": ForceResync,
    "ssh_root_key": SshRootKey,
    "script": Script,
    "send_mail": SendMail,
    "change_flags": ChangeFlags,
    "service": Service,
}

StepSpec = Annotated[Union[tuple(METHODS.values())], Field(discriminator="method")]  # noqa: UP007
