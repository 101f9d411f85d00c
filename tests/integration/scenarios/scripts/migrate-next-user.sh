#!/bin/sh
# A batch migration that moves the next user not yet done on each run and notes it. Run once it
# leaves users behind; run twice, the second run changes new: it converges only on a rerun.
set -eu
done=/root/maillab-migrated
touch "$done"
while read -r user; do
    grep -qxF "$user" "$done" && continue
    doveadm backup -R -u "$user" "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
    echo "$user" >> "$done"
    exit 0
done < "$MAILLAB_USERS_FILE"
