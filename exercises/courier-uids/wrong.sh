#!/bin/sh
# A WRONG solution: the ISPmail guide's step after copying Maildirs between two Dovecot servers,
# `doveadm force-resync`, on Maildirs Courier wrote. Dovecot reads none of Courier's files: it
# makes its own UIDVALIDITY, UIDs and POP3 UIDLs, and sees no keywords and no subscriptions.
set -eu
doveadm force-resync -A '*'
