#!/bin/sh
# A WRONG solution: All Mail taken for a view of the other folders, as Starred and Important
# are, and left out with -x '\All'. Archived mail is in no other folder: it never arrives.
set -eu
conf=/etc/dovecot/maillab.d/60-gmail.conf
cat > "$conf" <<'CONF'
imapc_host = old
imapc_port = 143
imapc_user = %u
imapc_features = rfc822.size fetch-headers gmail-migration
CONF
printf 'pop3_deleted_flag = "$POP3Deleted"\n' > /etc/dovecot/maillab.d/61-pop3-deleted.conf
chgrp dovecot "$conf" /etc/dovecot/maillab.d/61-pop3-deleted.conf
chmod 0640 "$conf" /etc/dovecot/maillab.d/61-pop3-deleted.conf
doveadm reload
first=$(head -n 1 "$MAILLAB_PASSWORDS_FILE" | cut -d' ' -f1)
tries=0  # the reload restarts the auth service, which doveadm asks for each user
until doveadm user "$first" > /dev/null 2>&1; do
    tries=$((tries + 1)); [ "$tries" -le 30 ] || { echo "Dovecot's auth service did not come back" >&2; exit 1; }
    sleep 1
done
while read -r user password; do  # < /dev/null below: doveadm must not read the rest of the list
    doveadm -o imapc_password="$password" backup -x '\All' -R -u "$user" imapc: < /dev/null
done < "$MAILLAB_PASSWORDS_FILE"
rm -f "$conf"
doveadm reload
