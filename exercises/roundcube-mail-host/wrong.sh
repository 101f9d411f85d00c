#!/bin/sh
# A WRONG solution: the databases and the mail move as in the reference, and mail_host is
# updated too, but to Roundcube's imap_host setting copied as it stands ('tls://new:143').
# Roundcube compares the bare host name ('new'), finds no user at the next login and makes
# fresh ones: every user's settings, identity and contacts are out of reach.
set -eu
# -n: ssh must not read stdin (pasted into a shell, the rest of this script is stdin)
ssh="ssh -n -i $MAILLAB_SSH_KEY -o BatchMode=yes"

for db in mailserver roundcube; do
    $ssh root@"$MAILLAB_OLD_HOST" mysqldump "$db" > "/root/$db.sql"
    mysql "$db" < "/root/$db.sql"
    echo "database $db copied"
done

imap_host=$(sed -n "s/^\$config\['imap_host'\] *= *'\([^']*\)';.*/\1/p" /etc/roundcube/config.inc.php)
mysql roundcube -e "UPDATE users SET mail_host='$imap_host'"
echo "Roundcube users now belong to mail_host '$imap_host'"

doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
echo "mail copied"
