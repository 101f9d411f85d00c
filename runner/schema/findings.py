"""What the verifier can find: each finding class, defined once, with the property it breaks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .vocabulary import Property

# Finding class -> the property it breaks (vocabulary.PROPERTIES).
FINDING_CLASSES: dict[str, Property] = {
    "source_changed": "source",
    "service_down": "services",
    "login_failed": "logins",
    "not_idempotent": "idempotence",
    "folder_missing": "folders",
    "folder_unexpected": "folders",
    "missing": "messages",
    "duplicate": "messages",
    "unexpected": "messages",
    "content_changed": "content",
    "flags_changed": "flags",
    "keywords_changed": "keywords",
    "date_changed": "dates",
    "guid_changed": "guids",
    "uid_changed": "uids",
    "uidnext_lowered": "uids",
    "uidvalidity_changed": "uidvalidity",
    "subscription_lost": "subscriptions",
    "subscription_added": "subscriptions",
    "sieve_lost": "sieve",
    "sieve_changed": "sieve",
    "sieve_unexpected": "sieve",
    "sieve_active_changed": "sieve",
    "uidl_changed": "pop3_uidls",
    "db_row_missing": "db_rows",
    "db_row_changed": "db_rows",
    "db_row_unexpected": "db_rows",
    "delivery_failed": "delivery",
    "bounced": "delivery",
    "stranded": "delivery",
    "tls_failed": "tls",
    "config_failed": "config",  # the admin's own configuration on new, refused by Dovecot or Postfix
}
FindingClass = Literal[tuple(FINDING_CLASSES)]  # type: ignore[valid-type]


class Finding(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: FindingClass = Field(alias="class")
    user: str
    mailbox: str | None = None
    uid: int | None = None
    detail: str = ""
    tolerated: bool = False

    @property
    def property(self) -> str:
        return FINDING_CLASSES[self.kind]

    def one_line(self) -> str:
        where = " ".join(str(x) for x in (self.user, self.mailbox, f"UID {self.uid}" if self.uid else None) if x)
        return f"{self.kind} {where}: {self.detail}".strip()
