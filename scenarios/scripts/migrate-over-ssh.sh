#!/bin/sh
# An admin's own migration script, run from a separate machine: copy the user database, then
# have the new server pull each user from the old one with doveadm. maillab provides the
# MAILLAB_* variables; in production they would come from the admin's inventory.
set -eu
ssh="ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes"

$ssh root@"$MAILLAB_OLD_HOST" mysqldump mailserver | $ssh root@"$MAILLAB_NEW_HOST" mysql mailserver
echo "user database copied"

while read -r user; do
    echo "migrating $user"
    # -n: ssh must not read the loop's stdin, or it swallows the rest of the users file
    $ssh -n root@"$MAILLAB_NEW_HOST" doveadm backup -R -u "$user" "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
done < "$MAILLAB_USERS_FILE"
echo "done"
