#!/bin/sh
# An admin's script that is right once and wrong twice: it copies the user rows as INSERTs
# (mysqldump --no-create-info), so a second run stops at "Duplicate entry" before it migrates
# anyone; and it pauses between users to spare the old server.
set -eu
ssh="ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes"

$ssh root@"$MAILLAB_OLD_HOST" mysqldump --no-create-info mailserver | $ssh root@"$MAILLAB_NEW_HOST" mysql mailserver
echo "user rows inserted"

while read -r user; do
    echo "migrating $user"
    $ssh -n root@"$MAILLAB_NEW_HOST" doveadm backup -R -u "$user" "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
    sleep 4
done < "$MAILLAB_USERS_FILE"
echo "done"
