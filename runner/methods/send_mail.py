"""Mail arriving over SMTP at either server during a cutover (the SendMail step). Mail sent to
old must reach new through the migration; mail sent to new after the MX switch must survive
the final sync."""

from __future__ import annotations

import secrets
import smtplib
import time
from email.message import EmailMessage

from imapclient.exceptions import IMAPClientError

from ...lab.errors import WaitTimeout
from ...lab.poll import NotYet, poll
from ..schema.steps import SendMail
from . import executes
from .context import Arrival, MigrationContext, StepResult

DELIVERY_TIMEOUT = 30.0


def compose_message(user: str, message_id: str, text: str, sender: str = "sender@maillab.invalid") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, user
    message["Subject"], message["Message-ID"] = f"maillab: {text}", message_id
    message.set_content(f"This message was {text}.\n")
    return message


def wait_for_delivery(host, passwords: dict[str, str], sent: dict[str, list[str]]) -> int:
    """Wait until every Message-ID in `sent` (per user) is in that user's INBOX on `host`;
    returns how many never arrived."""
    waiting = {user: dict.fromkeys(ids) for user, ids in sent.items() if ids}  # in the order sent

    def delivered() -> None:
        for user in list(waiting):
            try:
                with host.imap(user, passwords[user]) as imap:
                    imap.select_folder("INBOX", readonly=True)
                    for message_id in list(waiting[user]):
                        if imap.search(["HEADER", "Message-ID", message_id]):
                            del waiting[user][message_id]
            except IMAPClientError:  # INBOX not readable (yet): the mail has not arrived for the user
                pass
            if not waiting[user]:
                del waiting[user]
        if waiting:
            raise NotYet(f"{sum(map(len, waiting.values()))} messages not in INBOX yet")
    try:
        poll(f"LMTP delivery on {host.role}", delivered, timeout=DELIVERY_TIMEOUT, interval=0.1)
    except WaitTimeout:
        pass
    return sum(len(ids) for ids in waiting.values())


@executes(SendMail)
def run(step: SendMail, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    host = context.lab[step.to]
    users = list(context.passwords) if step.users == "all" else step.users
    sent: dict[str, list[str]] = {}
    try:
        with host.smtp() as smtp:
            for user in users:
                for n in range(step.count):
                    message_id = f"<cutover.{step.to}.{n}.{secrets.token_hex(4)}@maillab.invalid>"
                    smtp.send_message(compose_message(user, message_id, f"sent to {step.to} during the cutover"))
                    sent.setdefault(user, []).append(message_id)
    except (smtplib.SMTPException, OSError) as error:
        return [context.done(step.describe(), step.to, False, f"SMTP refused: {error}", started)]
    if step.to == "new":  # after the MX switch: must still be there after the final sync
        context.arrivals += [Arrival(user, mid) for user, ids in sent.items() for mid in ids]
    if missing := wait_for_delivery(host, context.passwords, sent):
        return [context.done(step.describe(), step.to, False, f"{missing} messages never reached INBOX", started)]
    total = sum(len(ids) for ids in sent.values())
    return [context.done(step.describe(), step.to, True, f"{total} delivered through LMTP", started)]
