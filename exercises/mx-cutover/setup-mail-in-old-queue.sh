#!/bin/sh
# Setup (not the trainee's work), on old: mail in flight. Old's Postfix has accepted one more
# message per user and holds it in its queue, not yet handed to Dovecot over LMTP. In the lab
# a setting holds it there (defer_transports = lmtp: deliver over LMTP only when the queue is
# flushed); on a real server it is the mail accepted in the last seconds, or deferred by a
# busy or restarting Dovecot.
set -eu
postconf -e defer_transports=lmtp
postfix reload
n=0
while read -r user; do
    n=$((n + 1))
    /usr/sbin/sendmail -f sender@example.net "$user" <<MAIL
From: sender@example.net
To: $user
Subject: accepted by old in the last seconds
Date: $(date -R)
Message-ID: <in-flight.$n.$MAILLAB_LAB_ID@example.net>

This message was in old's Postfix queue at the cutover.
MAIL
done < "$MAILLAB_USERS_FILE"
tries=0   # until every message is in the queue
until [ "$(postqueue -j | grep -c queue_id)" -ge "$n" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 30 ] || { echo "the messages did not reach old's queue" >&2; exit 1; }
    sleep 1
done
postqueue -p
