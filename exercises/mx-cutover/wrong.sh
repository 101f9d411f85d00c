#!/bin/sh
# A WRONG solution: the same commands in the wrong order. The final sync runs while old still
# takes mail; old is shut down (queue drained, Postfix stopped) only after it. What old's queue
# held lands in old's INBOXes after the last sync and never reaches new; every command exits 0.
set -eu
ssh="ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes"

doveadm sync -1 -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
echo "final sync done"

$ssh root@"$MAILLAB_OLD_HOST" sh -s <<'OLD'
set -eu
postconf -e master_service_disable=inet
postfix reload
postqueue -f
tries=0
until postqueue -p | grep -q '^Mail queue is empty'; do
    tries=$((tries + 1))
    [ "$tries" -le 60 ] || { postqueue -p; echo "old's queue did not drain" >&2; exit 1; }
    sleep 1
    postqueue -f
done
echo "old's queue is empty"
supervisorctl stop postfix
OLD
