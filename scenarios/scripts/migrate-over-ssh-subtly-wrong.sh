#!/bin/sh
# The same script with one classic mistake: ssh inside `while read` without -n. ssh reads the
# rest of the users file as its own stdin, so only the first user is migrated. Every command
# exits 0 and so does the script; only a check of the result notices.
set -eu
ssh="ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes"

$ssh root@"$MAILLAB_OLD_HOST" mysqldump mailserver | $ssh root@"$MAILLAB_NEW_HOST" mysql mailserver
echo "user database copied"

while read -r user; do
    echo "migrating $user"
    $ssh root@"$MAILLAB_NEW_HOST" doveadm backup -R -u "$user" "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
done < "$MAILLAB_USERS_FILE"
echo "done"
