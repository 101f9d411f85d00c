#!/bin/sh
# Reference solution, run as root on new: the cutover in the right order.
set -eu
ssh="ssh -i $MAILLAB_SSH_KEY -o BatchMode=yes"

# 1. On old: stop taking mail (no smtpd: the internet's servers fall back to the secondary MX,
#    new, or queue it for later), hand what old's queue holds to old's Dovecot, wait until the
#    queue is empty, and only then stop Postfix. Stopped with mail in its queue, Postfix would
#    keep that mail on old for good.
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

# 2. Nothing reaches old any more: the final delta. sync -1, not a second backup: mail that
#    reached new (the secondary MX) since the initial copy stays.
doveadm sync -1 -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
echo "final sync done"
