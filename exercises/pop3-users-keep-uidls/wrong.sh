#!/bin/sh
# On new: imapc as the master user, but without pop3c and pop3_migration. Every message,
# flag and UID arrives; the POP3 UIDLs are new's own.
set -eu
conf=/etc/dovecot/dovecot-migration.conf
cat > "$conf" <<CONF
!include /etc/dovecot/dovecot.conf
imapc_host = $MAILLAB_OLD_HOST
imapc_port = 143
imapc_user = %u
imapc_master_user = migrator
imapc_features = rfc822.size fetch-headers
CONF
chmod 0600 "$conf"
secret=$(cat /root/old-master-password)
while read -r user; do
    echo "migrating $user"
    doveadm -c "$conf" -o "imapc_password=$secret" backup -R -u "$user" imapc: </dev/null
done < "$MAILLAB_USERS_FILE"
