#!/bin/sh
# Reference solution, run as root on new: the ISPmail guide's database steps (seed 003), then
# the mail.
set -eu
# -n: ssh must not read stdin (pasted into a shell, the rest of this script is stdin)
ssh="ssh -n -i $MAILLAB_SSH_KEY -o BatchMode=yes"

# 1. Both databases, dumped on old and loaded here (mysqldump writes DROP TABLE + INSERTs, so a
#    second run loads the same rows again).
for db in mailserver roundcube; do
    $ssh root@"$MAILLAB_OLD_HOST" mysqldump "$db" > "/root/$db.sql"
    mysql "$db" < "/root/$db.sql"
    echo "database $db copied"
done

# 2. Roundcube finds a user by (username, mail_host), and mail_host is the HOST part of its
#    imap_host setting: 'tls://new:143' logs in to new and stores 'new' (no scheme, no port).
imap_host=$(sed -n "s/^\$config\['imap_host'\] *= *'\([^']*\)';.*/\1/p" /etc/roundcube/config.inc.php)
host=${imap_host#*://}
host=${host%%:*}
case $host in
    ''|*[!A-Za-z0-9.-]*) echo "cannot read a host name from imap_host '$imap_host'" >&2; exit 1;;
esac
mysql roundcube -e "UPDATE users SET mail_host='$host'"
echo "Roundcube users now belong to mail_host '$host' (imap_host is '$imap_host')"

# 3. The mail: new pulls every user from old over the doveadm service.
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
echo "mail copied"
