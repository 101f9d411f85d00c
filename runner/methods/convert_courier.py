"""The Courier Maildir's own files turned into Dovecot's on new, after the copy (the
ConvertCourier step): the project's converter, scripts/courier-to-dovecot (after Dovecot's wiki
script courier-dovecot-migrate.pl, docs/foreign-servers.md), put on new and run there over
/var/vmail: courierimapuiddb into dovecot-uidlist (UIDs, UIDVALIDITY), courierpop3dsizelist into
its POP3 UIDLs and order, courierimapkeywords into dovecot-keywords and the file names' letters,
courierimapsubscribed into subscriptions."""

from __future__ import annotations

from pathlib import Path

from ...lab.command import Command
from ...lab.containers import VMAIL
from ..schema.steps import ConvertCourier
from . import executes
from .context import MigrationContext, StepResult

CONVERTER = Path(__file__).resolve().parents[2] / "scripts" / "courier-to-dovecot"
ON_NEW = "/usr/local/sbin/courier-to-dovecot"
EXIT_MEANINGS = {0: "converted", 1: "a Maildir could not be converted (its reason above)", 2: "usage error"}


@executes(ConvertCourier)
def run(step: ConvertCourier, context: MigrationContext) -> list[StepResult]:
    new = context.lab["new"]
    new.put_file(ON_NEW, CONVERTER.read_bytes(), mode=0o755)
    result = context.run(new, Command.of(ON_NEW, "--recursive", "--convert", VMAIL), EXIT_MEANINGS)
    return [result.model_copy(update={"show_output": True})]
