"""The lab's Gmail as old: IMAP and POP3 as Gmail speaks them (X-GM-EXT-1, labels as folders,
`[Gmail]/All Mail` with archived mail, Gmail's POP3 UIDLs), on Twisted's servers
(dockerfiles/gmail, docs/gmail.md). No ManageSieve: Gmail's filters are not reachable over IMAP."""

from __future__ import annotations

from . import ForeignServer, server_kind


@server_kind("gmail")
class GmailHost(ForeignServer):
    SERVICES = ("IMAP", "POP3")
    USER_TOOL = "/usr/local/sbin/maillab-gmail-user"
    # one id per message across its labels' folders; Dovecot's imapc with gmail-migration makes
    # it the message's GUID on new (measured: docs/gmail.md)
    GUID_ITEM = "X-GM-MSGID"
