#!/bin/sh
# On new: the ISPmail guide's cold copy of every file under /var/vmail (each folder's
# dovecot-uidlist holds its UIDs and UIDVALIDITY), then rebuild the indexes.
set -eu
rsync -a --delete -e "ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes" "root@$MAILLAB_OLD_HOST:/var/vmail/" /var/vmail/
doveadm force-resync -A '*'
