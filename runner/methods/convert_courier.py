"""The Courier Maildir's own files turned into Dovecot's on new, after the copy (the
ConvertCourier step): the project's converter, dockerfiles/mailhost/courier-to-dovecot (after
Dovecot's wiki script courier-dovecot-migrate.pl, docs/foreign-servers.md), which the mail host
image holds, run over /var/vmail: courierimapuiddb into dovecot-uidlist (UIDs, UIDVALIDITY),
courierpop3dsizelist into its POP3 UIDLs and order, courierimapkeywords into dovecot-keywords and
the file names' letters, courierimapsubscribed into subscriptions."""

from __future__ import annotations

from ...lab.command import Command
from ...lab.containers import VMAIL
from ..schema.steps import ConvertCourier
from . import executes
from .context import MigrationContext, StepResult

CONVERTER = "courier-to-dovecot"  # in the mail host image's /usr/local/sbin
EXIT_MEANINGS = {0: "converted", 1: "a Maildir could not be converted (its reason above)", 2: "usage error"}


@executes(ConvertCourier)
def run(step: ConvertCourier, context: MigrationContext) -> list[StepResult]:
    result = context.run(context.lab["new"], Command.of(CONVERTER, "--recursive", "--convert", VMAIL), EXIT_MEANINGS)
    return [result.model_copy(update={"show_output": True})]
