#!/bin/sh
# On new: pull each user over IMAP (imapc) as the master user, and keep the POP3 UIDLs with a
# hidden pop3c namespace and the pop3_migration plugin. The settings live in a migration-only
# config (doveadm -c), so new's IMAP and LMTP never see the pop3c namespace.
set -eu
conf=/etc/dovecot/dovecot-migration.conf
cat > "$conf" <<CONF
!include /etc/dovecot/dovecot.conf
imapc_host = $MAILLAB_OLD_HOST
imapc_port = 143
imapc_user = %u
imapc_master_user = migrator
imapc_features = rfc822.size fetch-headers
pop3c_host = $MAILLAB_OLD_HOST
pop3c_port = 110
pop3c_user = %u
pop3c_master_user = migrator
namespace pop3c {
  prefix = POP3-MIGRATION-NS/
  separator = /
  location = pop3c:
  inbox = no
  list = no
  hidden = yes
}
protocol doveadm {
  mail_plugins = \$mail_plugins pop3_migration
}
plugin {
  pop3_migration_mailbox = POP3-MIGRATION-NS/INBOX
}
CONF
chmod 0600 "$conf"
secret=$(cat /root/old-master-password)
while read -r user; do
    echo "migrating $user"
    doveadm -c "$conf" -o "imapc_password=$secret" -o "pop3c_password=$secret" backup -R -u "$user" imapc: </dev/null
done < "$MAILLAB_USERS_FILE"
