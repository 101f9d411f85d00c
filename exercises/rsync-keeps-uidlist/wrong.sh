#!/bin/sh
# On new: the same copy leaving out dovecot-uidlist ("force-resync rebuilds it"). Dovecot
# numbers every message afresh.
set -eu
rsync -a --delete --exclude=dovecot-uidlist -e "ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes" \
    "root@$MAILLAB_OLD_HOST:/var/vmail/" /var/vmail/
doveadm force-resync -A '*'
