"""What happens around a live cutover, as steps: mail arriving over SMTP at either server,
users changing flags on the old one, and stopping or starting a service (the seeds' "stop the
old server's mail service"). Mail sent to old must reach new through the migration; mail sent
to new after the MX switch must survive the final sync."""

from __future__ import annotations

import secrets
import smtplib
import time
from email.message import EmailMessage
from typing import Literal

from imapclient.exceptions import IMAPClientError
from pydantic import Field

from lab.errors import LabError
from lab.host import SERVICES
from runner.migrate.base import MigrationContext, MigrationStep, StepResult
from runner.state import Arrival

DELIVERY_TIMEOUT = 30.0


def _result(step: str, host: str, ok: bool, meaning: str, started: float, output: str = "") -> StepResult:
    return StepResult(step=step, host=host, command=step, exit_code=0 if ok else 1, meaning=meaning, ok=ok,
                      seconds=round(time.monotonic() - started, 2), output=output)


class SendMail(MigrationStep):
    """`count` messages over SMTP to every user (or those listed) on `to`; waits until LMTP
    delivered them, so the next step sees them."""

    method: Literal["send_mail"]
    to: Literal["old", "new"]
    count: int = Field(3, ge=1, le=1000)
    users: Literal["all"] | list[str] = "all"
    rerun_in_idempotence: bool = False  # a second wave of mail is not "the same run again"

    @property
    def changes_old(self) -> bool:
        return self.to == "old"

    def describe(self) -> str:
        return f"{self.count} messages per user over SMTP to {self.to}"

    def run(self, context: MigrationContext) -> list[StepResult]:
        started = time.monotonic()
        host = context.lab[self.to]
        users = list(context.passwords) if self.users == "all" else self.users
        sent: dict[str, list[str]] = {}
        try:
            with smtplib.SMTP("127.0.0.1", host.port("smtp"), timeout=30) as smtp:
                for user in users:
                    for n in range(self.count):
                        message_id = f"<cutover.{self.to}.{n}.{secrets.token_hex(4)}@maillab.invalid>"
                        smtp.send_message(compose_message(user, message_id, f"sent to {self.to} during the cutover"))
                        sent.setdefault(user, []).append(message_id)
        except (smtplib.SMTPException, OSError) as error:
            return [_result(self.describe(), self.to, False, f"SMTP refused: {error}", started)]
        if self.to == "new":  # after the MX switch: must still be there after the final sync
            context.arrivals += [Arrival(user, mid) for user, ids in sent.items() for mid in ids]
        missing = wait_for_delivery(host, context.passwords, sent)
        if missing:
            return [_result(self.describe(), self.to, False, f"{missing} messages never reached INBOX", started)]
        total = sum(len(ids) for ids in sent.values())
        return [_result(self.describe(), self.to, True, f"{total} delivered through LMTP", started)]


def compose_message(user: str, message_id: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = "sender@maillab.invalid", user
    message["Subject"], message["Message-ID"] = f"maillab: {text}", message_id
    message.set_content(f"This message was {text}.\n")
    return message


def wait_for_delivery(host, passwords: dict[str, str], sent: dict[str, list[str]]) -> int:
    """Wait until every Message-ID in `sent` (per user) is in that user's INBOX on `host`;
    returns how many never arrived."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    waiting = {user: set(ids) for user, ids in sent.items()}
    while waiting and time.monotonic() < deadline:
        for user in list(waiting):
            try:
                with host.imap(user, passwords[user]) as imap:
                    imap.select_folder("INBOX", readonly=True)
                    for message_id in list(waiting[user]):
                        if imap.search(["HEADER", "Message-ID", message_id]):
                            waiting[user].discard(message_id)
            except IMAPClientError:  # INBOX not readable (yet): the mail has not arrived for the user
                pass
            if not waiting[user]:
                del waiting[user]
        if waiting:
            time.sleep(0.25)
    return sum(len(ids) for ids in waiting.values())


class ChangeFlags(MigrationStep):
    """Users keep working on the old server: flags change on the first `count` messages of a folder."""

    method: Literal["change_flags"]
    host: Literal["old", "new"] = "old"
    folder: str = "INBOX"
    count: int = Field(5, ge=1)
    add: list[str] = ["\\Flagged"]
    remove: list[str] = []
    rerun_in_idempotence: bool = False

    @property
    def changes_old(self) -> bool:
        return self.host == "old"

    def describe(self) -> str:
        changes = " ".join([f"+{f}" for f in self.add] + [f"-{f}" for f in self.remove])
        return f"{changes} on {self.count} messages of {self.folder} on {self.host}"

    def run(self, context: MigrationContext) -> list[StepResult]:
        started = time.monotonic()
        for user, password in context.passwords.items():
            with context.lab[self.host].imap(user, password) as imap:
                imap.select_folder(self.folder)
                uids = imap.search("ALL")[: self.count]
                if uids and self.add:
                    imap.add_flags(uids, self.add)
                if uids and self.remove:
                    imap.remove_flags(uids, self.remove)
        return [_result(self.describe(), self.host, True, "done", started)]


class Service(MigrationStep):
    """Stop or start one service on a host (supervisorctl)."""

    method: Literal["service"]
    host: Literal["old", "new"]
    service: Literal[SERVICES]  # type: ignore[valid-type]
    action: Literal["stop", "start"]
    rerun_in_idempotence: bool = False

    def describe(self) -> str:
        return f"{self.action} {self.service} on {self.host}"

    def run(self, context: MigrationContext) -> list[StepResult]:
        started = time.monotonic()
        try:
            context.lab[self.host].service(self.service, self.action)
        except LabError as error:
            return [_result(self.describe(), self.host, False, str(error), started)]
        return [_result(self.describe(), self.host, True, "done", started)]
