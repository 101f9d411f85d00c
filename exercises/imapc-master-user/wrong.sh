#!/bin/sh
# A WRONG solution: imapc and the master user are set up as in the reference, but the users to
# pull are taken from old's mail directories of the server's domain (/var/vmail/example.org/):
# the user of the second domain (example.net) is never migrated, and nothing says so.
set -eu
# -n: ssh must not read stdin (pasted into a shell, the rest of this script is stdin)
ssh="ssh -n -i $MAILLAB_SSH_KEY -o BatchMode=yes"
conf=/etc/dovecot/maillab.d/60-imapc.conf

auth_answers() {  # a reload restarts the auth service: wait until it answers again
    tries=0
    until doveadm user "$first" > /dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -le 30 ] || { echo "Dovecot's auth service did not come back" >&2; exit 1; }
        sleep 1
    done
}
password=$(cat /root/old-master-password)

# 1. The users first: imapc needs each user known on new too.
$ssh root@"$MAILLAB_OLD_HOST" mysqldump mailserver > /root/mailserver.sql
mysql mailserver < /root/mailserver.sql

# 2. imapc: whom to read, as whom. imapc_user is the user being migrated (%u), the master user
#    authenticates for them; the password stays out of the file (given with -o below).
cat > "$conf" <<'CONF'
imapc_host = old
imapc_port = 143
imapc_user = %u
imapc_master_user = migrator
imapc_features = rfc822.size fetch-headers
CONF
chgrp dovecot "$conf"
chmod 0640 "$conf"
doveadm reload
users=$($ssh root@"$MAILLAB_OLD_HOST" ls /var/vmail/example.org | sed 's/$/@example.org/')
first=$(echo "$users" | head -n 1)
auth_answers

# 3. Every user with a mailbox on old... of example.org only.
for user in $users; do
    doveadm -o imapc_password="$password" -o mail_location=imapc: mailbox list -u "$user" > /dev/null
    doveadm -o imapc_password="$password" backup -R -u "$user" imapc:
    echo "$user migrated"
done

# 4. The imapc settings served this migration only.
rm -f "$conf"
doveadm reload
auth_answers
