#!/bin/sh
# After a first copy that failed on a full disk, start every user's copy afresh: a
# dovecot-uidlist written short (next_uid lowered) makes each later dsync of that user fail
# with 65 ("INBOX can't be deleted"). New holds no mail of its own yet, so the homes can go.
set -eu
find /var/vmail -mindepth 2 -maxdepth 2 -type d -exec rm -rf {} +
echo "users' homes on new removed"
