"""Courier-IMAP as old: Debian's courier-imap and courier-pop with authdaemon's userdb
(dockerfiles/courier). Courier has no ManageSieve (its filters are maildrop's) and shows its
users' folders under `INBOX.` with '.' between levels."""

from __future__ import annotations

from . import ForeignServer, server_kind


@server_kind("courier")
class CourierHost(ForeignServer):
    SERVICES = ("IMAP", "POP3")
    USER_TOOL = "/usr/local/sbin/maillab-courier-user"
    SSHD = True  # the Maildir copied with rsync over root's ssh (docs/foreign-servers.md)
