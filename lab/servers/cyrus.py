"""Cyrus IMAP as old: Debian's cyrus-imapd with its POP3 and ManageSieve services and its users
in sasldb (dockerfiles/cyrus). It shows its users' folders under `INBOX.` with '.' between levels."""

from __future__ import annotations

from . import ForeignServer, server_kind


@server_kind("cyrus")
class CyrusHost(ForeignServer):
    SERVICES = ("IMAP", "POP3", "ManageSieve")
    USER_TOOL = "/usr/local/sbin/maillab-cyrus-user"

    def environment(self) -> dict[str, str]:
        # the Cyrus administrator `cyrus`, who makes the users' mailboxes (maillab-cyrus-user)
        return {"MAILLAB_CYRUS_ADMIN_PASSWORD": self.secrets.db}
