#!/bin/sh
# Setup, on old: a master user `migrator` (login USER*migrator), with a new password in
# /root/master-password, as the Dovecot migration doc's "Master user" authentication.
set -eu
umask 077
head -c 18 /dev/urandom | base64 > /root/master-password
printf 'migrator:%s\n' "$(doveadm pw -s SHA512-CRYPT -p "$(cat /root/master-password)")" > /etc/dovecot/master-users
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
user=$(head -n 1 "$MAILLAB_USERS_FILE")
# the reload restarts the auth service in the background: wait until it takes the master user
for try in $(seq 1 50); do
    if doveadm auth test -x service=imap -- "$user*migrator" "$(cat /root/master-password)" >/dev/null 2>&1; then
        echo "master user migrator works"
        exit 0
    fi
    sleep 0.2
done
echo "old does not accept the master user migrator" >&2
exit 1
