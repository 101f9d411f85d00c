#!/bin/sh
# Setup (not the trainee's work), on old: its admin adds a master user `migrator` (a master
# passdb, as the Dovecot migration doc's "Master user" authentication: `user*migrator` logs in
# as user with migrator's password) and sends the password to new's admin, who finds it in
# /root/old-master-password. Used by the exercises imapc-master-user and pop3-users-keep-uidls.
set -eu
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
hash=$(doveadm pw -s SHA512-CRYPT -p "$password")
printf 'migrator:%s\n' "$hash" > /etc/dovecot/master-users
cat > /etc/dovecot/maillab.d/50-master-user.conf <<'CONF'
auth_master_user_separator = *
passdb {
  driver = passwd-file
  master = yes
  pass = yes
  args = scheme=SHA512-CRYPT /etc/dovecot/master-users
}
CONF
chgrp dovecot /etc/dovecot/master-users /etc/dovecot/maillab.d/50-master-user.conf
chmod 0640 /etc/dovecot/master-users /etc/dovecot/maillab.d/50-master-user.conf
doveadm reload
first=$(head -n 1 "$MAILLAB_USERS_FILE")
tries=0   # the reload restarts the auth service: wait until it takes the master login
until doveadm auth test -x service=imap -- "$first*migrator" "$password" > /dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 30 ] || { echo "old does not accept the master user" >&2; exit 1; }
    sleep 1
done
printf '%s\n' "$password" | ssh -i "$MAILLAB_SSH_KEY" -o BatchMode=yes root@"$MAILLAB_NEW_HOST" \
    'umask 077; cat > /root/old-master-password'
echo "master user migrator made on old; its password is in /root/old-master-password on new"
