#!/bin/sh
# A WRONG solution: the settings 2.4 refuses are deleted instead of translated. Dovecot starts
# and the mail moves, but new computes POP3 UIDLs in its default format (UID first): every
# POP3 client downloads all its mail again.
set -eu
# -n: ssh must not read stdin (pasted into a shell, the rest of this script is stdin)
ssh="ssh -n -i $MAILLAB_SSH_KEY -o BatchMode=yes"
conf=/etc/dovecot/maillab.d/45-local.conf

sed -i -e '/^disable_plaintext_auth/d' -e '/^pop3_uidl_format/d' "$conf"
doveconf -n > /dev/null

supervisorctl stop dovecot > /dev/null 2>&1 || true
supervisorctl start dovecot
tries=0
until doveadm service status imap > /dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 30 ] || { echo "Dovecot did not come up" >&2; exit 1; }
    sleep 1
done

$ssh root@"$MAILLAB_OLD_HOST" mysqldump mailserver > /root/mailserver.sql
mysql mailserver < /root/mailserver.sql
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
echo "mail copied"
